//! Organisations, roles and what each role may see and do.
//!
//! Separation of duties: administrators manage people and organisations but never read
//! customer data; auditors read their subtree but never write; officers see only the borrowers
//! and loans assigned to them.

use crate::{OrgId, UserId};

crate::text_enum!(
    /// Level of an organisation in the institution's tree.
    OrgKind {
        /// 总行: the root.
        HeadOffice = "head_office",
        /// 分行.
        Branch = "branch",
        /// 支行.
        SubBranch = "sub_branch",
    }
);

impl OrgKind {
    /// Whether an organisation of this kind may sit directly under `parent` (`None`: the root).
    pub fn may_sit_under(self, parent: Option<OrgKind>) -> bool {
        matches!(
            (self, parent),
            (Self::HeadOffice, None)
                | (Self::Branch, Some(Self::HeadOffice))
                | (Self::SubBranch, Some(Self::Branch))
                | (Self::SubBranch, Some(Self::HeadOffice))
        )
    }
}

crate::text_enum!(
    /// What a person or an integrator does in the institution.
    Role {
        /// 客户经理: works the borrowers assigned to them.
        Officer = "officer",
        /// Reviews officers' work in their organisation subtree.
        Supervisor = "supervisor",
        /// Risk management in their subtree.
        RiskManager = "risk_manager",
        /// Head of a branch.
        BranchHead = "branch_head",
        /// Head office staff: the whole subtree below their organisation.
        HeadOffice = "head_office",
        /// Reads everything in their subtree, writes nothing.
        Auditor = "auditor",
        /// Manages users and organisations; reads no customer data.
        Admin = "admin",
        /// A system that calls the API with client credentials.
        Integrator = "integrator",
    }
);

impl Role {
    /// Whether the role may read borrowers, loans and their history at all.
    pub fn reads_customer_data(self) -> bool {
        !matches!(self, Self::Admin)
    }

    /// Whether the role may create or change customer data (within its scope).
    pub fn writes_customer_data(self) -> bool {
        !matches!(self, Self::Admin | Self::Auditor)
    }

    /// Whether the role sees personal data (ID and phone numbers) in full. Officers and their
    /// supervisors deal with the person; others see masked values.
    pub fn sees_personal_data(self) -> bool {
        matches!(self, Self::Officer | Self::Supervisor | Self::BranchHead)
    }

    /// Whether the role reviews officers' work: assigns and reviews tasks, signs work logs,
    /// hands work over.
    pub fn reviews_work(self) -> bool {
        matches!(
            self,
            Self::Supervisor | Self::RiskManager | Self::BranchHead | Self::HeadOffice
        )
    }

    /// Whether the role may see other people's field trails in its subtree (supervisors and
    /// above, auditors). The trail is personal data: everyone else sees only their own.
    pub fn sees_others_trails(self) -> bool {
        self.reviews_work() || self == Self::Auditor
    }

    /// Whether the role writes and activates the institution's warning rules.
    pub fn manages_rules(self) -> bool {
        matches!(self, Self::RiskManager | Self::HeadOffice)
    }

    /// Whether the role manages users, organisations and API clients.
    pub fn manages_people(self) -> bool {
        matches!(self, Self::Admin)
    }
}

/// The part of the portfolio a caller may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Only the borrowers and loans assigned to this officer (who works in `org`).
    Assigned {
        /// The officer.
        officer: UserId,
        /// The officer's organisation, for shared records such as groups.
        org: OrgId,
    },
    /// Everything booked in this organisation or below it.
    Subtree(OrgId),
    /// No customer data at all (administrators).
    Nothing,
}

impl Scope {
    /// The scope of a role held in an organisation.
    pub fn of(role: Role, user: Option<UserId>, org: OrgId) -> Self {
        match (role, user) {
            (Role::Admin, _) => Self::Nothing,
            (Role::Officer, Some(user)) => Self::Assigned { officer: user, org },
            _ => Self::Subtree(org),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_see_nothing_officers_their_own_and_others_their_subtree() {
        let org = OrgId::new();
        let user = UserId::new();
        assert_eq!(Scope::of(Role::Admin, Some(user), org), Scope::Nothing);
        assert_eq!(
            Scope::of(Role::Officer, Some(user), org),
            Scope::Assigned { officer: user, org }
        );
        assert_eq!(
            Scope::of(Role::Auditor, Some(user), org),
            Scope::Subtree(org)
        );
        assert_eq!(Scope::of(Role::Integrator, None, org), Scope::Subtree(org));
    }

    #[test]
    fn auditors_never_write_and_admins_never_read_customer_data() {
        assert!(!Role::Auditor.writes_customer_data());
        assert!(Role::Auditor.reads_customer_data());
        assert!(!Role::Admin.reads_customer_data());
        assert!(!Role::Admin.writes_customer_data());
    }

    #[test]
    fn the_tree_is_head_office_then_branches_then_sub_branches() {
        assert!(OrgKind::HeadOffice.may_sit_under(None));
        assert!(!OrgKind::HeadOffice.may_sit_under(Some(OrgKind::Branch)));
        assert!(OrgKind::Branch.may_sit_under(Some(OrgKind::HeadOffice)));
        assert!(!OrgKind::Branch.may_sit_under(Some(OrgKind::Branch)));
        assert!(OrgKind::SubBranch.may_sit_under(Some(OrgKind::Branch)));
        assert!(!OrgKind::SubBranch.may_sit_under(None));
    }
}
