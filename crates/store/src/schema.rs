//! The one diesel schema for both backends. Portable types only: `Text`, `BigInt`, `Integer`,
//! `Bool`, `Date`, `Timestamp` (UTC). `tests/parity.rs` checks it against both databases.

diesel::table! {
    organisations (id) {
        id -> Text,
        parent_id -> Nullable<Text>,
        kind -> Text,
        name -> Text,
        code -> Text,
        path -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        organisation_id -> Text,
        username -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        active -> Bool,
        password_changed_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        client_id -> Text,
        secret_hash -> Text,
        name -> Text,
        organisation_id -> Text,
        access -> Text,
        active -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        user_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        failures -> Integer,
        window_start -> Timestamp,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    borrower_groups (id) {
        id -> Text,
        name -> Text,
        lead_organisation_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    borrowers (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        credit_code -> Nullable<Text>,
        id_number -> Nullable<Text>,
        phone -> Nullable<Text>,
        registered_capital_fen -> Nullable<BigInt>,
        currency -> Text,
        registered_address -> Nullable<Text>,
        legal_representative -> Nullable<Text>,
        industry -> Nullable<Text>,
        business_scope -> Nullable<Text>,
        organisation_id -> Text,
        officer_id -> Text,
        group_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    guarantors (id) {
        id -> Text,
        kind -> Text,
        name -> Text,
        credit_code -> Nullable<Text>,
        id_number -> Nullable<Text>,
        phone -> Nullable<Text>,
        organisation_id -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    collateral (id) {
        id -> Text,
        borrower_id -> Text,
        owner_name -> Text,
        security_type -> Text,
        asset_type -> Text,
        description -> Text,
        appraised_value_fen -> BigInt,
        currency -> Text,
        registration_no -> Nullable<Text>,
        insurance_expiry -> Nullable<Date>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    loans (id) {
        id -> Text,
        contract_no -> Text,
        borrower_id -> Text,
        product -> Text,
        principal_fen -> BigInt,
        currency -> Text,
        annual_rate -> Text,
        repayment_method -> Text,
        guarantee_method -> Text,
        purpose -> Text,
        counterparty -> Nullable<Text>,
        disbursement_date -> Date,
        maturity_date -> Date,
        class -> Text,
        management_mode -> Text,
        status -> Text,
        officer_id -> Text,
        organisation_id -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        repayment_frequency -> Text,
        repayment_day -> Nullable<Integer>,
        day_count -> Text,
        custom_schedule -> Nullable<Text>,
        contract_annual_rate -> Text,
        contract_maturity_date -> Date,
        diverted_from -> Nullable<Date>,
    }
}

diesel::table! {
    loan_guarantors (loan_id, guarantor_id) {
        loan_id -> Text,
        guarantor_id -> Text,
        amount_fen -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    loan_collateral (loan_id, collateral_id) {
        loan_id -> Text,
        collateral_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    loan_events (id) {
        id -> Text,
        loan_id -> Text,
        kind -> Text,
        business_date -> Date,
        amount_fen -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        payload -> Text,
        note -> Nullable<Text>,
        recorded_by -> Text,
        recorded_at -> Timestamp,
    }
}

diesel::table! {
    audit_head (id) {
        id -> Integer,
        seq -> BigInt,
        hash -> Text,
    }
}

diesel::table! {
    audit_log (seq) {
        seq -> BigInt,
        at -> Timestamp,
        actor -> Text,
        action -> Text,
        entity_type -> Text,
        entity_id -> Text,
        request_id -> Text,
        detail -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    calendar_years (year) {
        year -> Integer,
        document -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    notices (id) {
        id -> Text,
        loan_id -> Text,
        kind -> Text,
        addressee_kind -> Text,
        addressee_id -> Text,
        reference_date -> Date,
        due_date -> Date,
        amount_fen -> Nullable<BigInt>,
        status -> Text,
        officer_id -> Text,
        organisation_id -> Text,
        created_at -> Timestamp,
        acted_by -> Nullable<Text>,
        acted_at -> Nullable<Timestamp>,
        note -> Nullable<Text>,
    }
}

diesel::table! {
    products (code) {
        code -> Text,
        settings -> Text,
        updated_at -> Timestamp,
        updated_by -> Text,
    }
}

diesel::table! {
    job_runs (name, run_date) {
        name -> Text,
        run_date -> Date,
        started_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    tasks (id) {
        id -> Text,
        loan_id -> Text,
        borrower_id -> Text,
        kind -> Text,
        checkpoint -> Date,
        due_date -> Date,
        status -> Text,
        assignee_id -> Nullable<Text>,
        review_levels -> Integer,
        approvals -> Integer,
        returns -> Integer,
        organisation_id -> Text,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        escalated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    task_events (id) {
        id -> Text,
        task_id -> Text,
        action -> Text,
        actor -> Text,
        from_status -> Text,
        to_status -> Text,
        comment -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    checklist_templates (code, version) {
        code -> Text,
        version -> Integer,
        document -> Text,
        created_at -> Timestamp,
        created_by -> Text,
    }
}

diesel::table! {
    inspections (task_id) {
        task_id -> Text,
        template_code -> Text,
        template_version -> Integer,
        answers -> Text,
        evidence -> Text,
        checked_in -> Bool,
        signed_by -> Nullable<Text>,
        signed_at -> Nullable<Timestamp>,
        started_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    work_logs (id) {
        id -> Text,
        borrower_id -> Text,
        task_id -> Nullable<Text>,
        author_id -> Text,
        activity -> Text,
        activity_date -> Date,
        content -> Text,
        due_date -> Date,
        sign_due_date -> Date,
        signed_by -> Nullable<Text>,
        signed_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (actor, key) {
        actor -> Text,
        key -> Text,
        request_hash -> Text,
        status -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    notifications (id) {
        id -> Text,
        user_id -> Text,
        kind -> Text,
        subject_type -> Text,
        subject_id -> Text,
        message -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    incident_reports (id) {
        id -> Text,
        borrower_id -> Text,
        loan_id -> Nullable<Text>,
        organisation_id -> Text,
        author_id -> Text,
        category -> Text,
        learned_on -> Date,
        due_date -> Date,
        summary -> Text,
        measures -> Text,
        proposed_mode -> Nullable<Text>,
        status -> Text,
        tightened_loans -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    incident_signatures (report_id, level) {
        report_id -> Text,
        level -> Integer,
        signer_id -> Text,
        signer_role -> Text,
        comment -> Nullable<Text>,
        signed_at -> Timestamp,
    }
}

diesel::table! {
    borrower_sites (id) {
        id -> Text,
        borrower_id -> Text,
        name -> Text,
        datum -> Text,
        geometry -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    checkins (id) {
        id -> Text,
        request_hash -> Text,
        task_id -> Text,
        borrower_id -> Text,
        officer_id -> Text,
        organisation_id -> Text,
        latitude -> Double,
        longitude -> Double,
        datum -> Text,
        wgs84_latitude -> Double,
        wgs84_longitude -> Double,
        accuracy_m -> Double,
        provider -> Text,
        mock_location -> Bool,
        device_time -> Timestamp,
        fix_time -> Timestamp,
        sent_at -> Timestamp,
        received_at -> Timestamp,
        checked_in_at -> Timestamp,
        site_id -> Nullable<Text>,
        distance_m -> Nullable<Double>,
        reasons -> Text,
        trusted -> Bool,
        checked_out_at -> Nullable<Timestamp>,
        response -> Text,
    }
}

diesel::table! {
    evidence (id) {
        id -> Text,
        request_hash -> Text,
        task_id -> Text,
        item_key -> Text,
        officer_id -> Text,
        kind -> Text,
        content_type -> Text,
        size_bytes -> BigInt,
        sha256 -> Text,
        captured_at -> Timestamp,
        capture -> Text,
        object_key -> Text,
        status -> Text,
        rejected_reason -> Nullable<Text>,
        created_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
        width -> Nullable<Integer>,
        height -> Nullable<Integer>,
        phash -> Nullable<BigInt>,
        thumbnail_key -> Nullable<Text>,
        upload_id -> Nullable<Text>,
        part_bytes -> Nullable<BigInt>,
        device_id -> Nullable<Text>,
        device_signature -> Nullable<Text>,
        signature_verified -> Nullable<Bool>,
    }
}

diesel::table! {
    device_keys (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        public_key -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    evidence_reuse (evidence_id, other_id) {
        evidence_id -> Text,
        other_id -> Text,
        reason -> Text,
        distance -> Integer,
        found_at -> Timestamp,
    }
}

diesel::table! {
    parties (id) {
        id -> Text,
        name -> Text,
        kind -> Text,
        category -> Nullable<Text>,
        borrower_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    party_relations (borrower_id, party_id, relation) {
        borrower_id -> Text,
        party_id -> Text,
        relation -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    accounts (account_no) {
        account_no -> Text,
        party_id -> Text,
        bank -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    fund_transfers (id) {
        id -> Text,
        booked_at -> Timestamp,
        from_account -> Text,
        to_account -> Text,
        from_party -> Text,
        to_party -> Text,
        amount_fen -> BigInt,
        loan_id -> Nullable<Text>,
        memo -> Nullable<Text>,
        content_hash -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    rule_sets (version) {
        version -> Integer,
        definition -> Text,
        note -> Nullable<Text>,
        active_from -> Nullable<Date>,
        created_by -> Text,
        created_at -> Timestamp,
        activated_by -> Nullable<Text>,
        activated_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    warnings (id) {
        id -> Text,
        borrower_id -> Text,
        loan_id -> Nullable<Text>,
        organisation_id -> Text,
        rule -> Text,
        tier -> Text,
        period -> Text,
        rule_version -> Integer,
        raised_on -> Date,
        detail -> Text,
        facts -> Text,
        status -> Text,
        task_id -> Nullable<Text>,
        resolution -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    warning_events (id) {
        id -> Text,
        warning_id -> Text,
        action -> Text,
        actor -> Text,
        from_status -> Text,
        to_status -> Text,
        comment -> Nullable<Text>,
        at -> Timestamp,
    }
}

diesel::table! {
    statements (borrower_id, period) {
        borrower_id -> Text,
        period -> Text,
        current_assets -> BigInt,
        inventory -> BigInt,
        total_assets -> BigInt,
        current_liabilities -> BigInt,
        total_liabilities -> BigInt,
        revenue -> BigInt,
        net_profit -> BigInt,
        profit_before_tax -> BigInt,
        interest_expense -> BigInt,
        operating_cash_flow -> BigInt,
        recorded_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    signals (id) {
        id -> Text,
        borrower_id -> Text,
        kind -> Text,
        occurred_on -> Date,
        amount_fen -> Nullable<BigInt>,
        detail -> Nullable<Text>,
        content_hash -> Text,
        received_at -> Timestamp,
        collateral_id -> Nullable<Text>,
    }
}

diesel::table! {
    loan_class_changes (id) {
        id -> Text,
        loan_id -> Text,
        from_class -> Text,
        to_class -> Text,
        changed_on -> Date,
        changed_by -> Text,
        at -> Timestamp,
    }
}

diesel::table! {
    borrower_health (borrower_id) {
        borrower_id -> Text,
        as_of -> Date,
        score -> Integer,
        grade -> Text,
        worst_tier -> Nullable<Text>,
        rule_version -> Integer,
        checks -> Text,
        computed_at -> Timestamp,
    }
}

diesel::joinable!(users -> organisations (organisation_id));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(incident_signatures -> incident_reports (report_id));
diesel::joinable!(api_clients -> organisations (organisation_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(borrowers -> organisations (organisation_id));
diesel::joinable!(borrowers -> borrower_groups (group_id));
diesel::joinable!(guarantors -> organisations (organisation_id));
diesel::joinable!(collateral -> borrowers (borrower_id));
diesel::joinable!(loans -> borrowers (borrower_id));
diesel::joinable!(loan_events -> loans (loan_id));
diesel::joinable!(loan_guarantors -> loans (loan_id));
diesel::joinable!(loan_guarantors -> guarantors (guarantor_id));
diesel::joinable!(loan_collateral -> loans (loan_id));
diesel::joinable!(loan_collateral -> collateral (collateral_id));
diesel::joinable!(notices -> loans (loan_id));
diesel::joinable!(tasks -> loans (loan_id));
diesel::joinable!(task_events -> tasks (task_id));
diesel::joinable!(inspections -> tasks (task_id));
diesel::joinable!(work_logs -> borrowers (borrower_id));
diesel::joinable!(accounts -> parties (party_id));
diesel::joinable!(party_relations -> parties (party_id));
diesel::joinable!(warning_events -> warnings (warning_id));

diesel::allow_tables_to_appear_in_same_query!(
    device_keys,
    organisations,
    users,
    api_clients,
    refresh_tokens,
    login_throttle,
    borrower_groups,
    borrowers,
    guarantors,
    collateral,
    loans,
    loan_guarantors,
    loan_collateral,
    loan_events,
    audit_head,
    audit_log,
    calendar_years,
    notices,
    products,
    tasks,
    task_events,
    checklist_templates,
    inspections,
    work_logs,
    job_runs,
    idempotency_keys,
    notifications,
    incident_reports,
    incident_signatures,
    borrower_sites,
    checkins,
    evidence,
    evidence_reuse,
    parties,
    party_relations,
    accounts,
    fund_transfers,
    rule_sets,
    warnings,
    warning_events,
    statements,
    signals,
    loan_class_changes,
    borrower_health,
);
