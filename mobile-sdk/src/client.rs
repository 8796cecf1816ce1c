//! The field officer's client: the session, the offline agenda, and everything done on site,
//! each written to the device before it is sent.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    sync::Arc,
};

use chrono::{DateTime, NaiveDate, Utc};
use loanwatch_api_types::{
    auth::{LoginRequest, Me, RefreshRequest, TokenResponse},
    field::{CheckinRules, Coordinates, CreateCheckin, DeclareEvidence, Site},
    ledger::{Borrower, Loan},
    task::{Inspection, Task},
};
use loanwatch_domain::{
    field::{
        Datum, Geofence, LatLng,
        checkin::{CheckinInput, CheckinPolicy, Fix, PreviousCheckin, judge, judge_dwell},
        evidence::EvidenceKind,
    },
    ledger::LoanClass,
    schedule::add_months,
    supervision::{
        TaskStatus,
        checklist::{ItemKind, Template},
        plan::PlanConfig,
    },
};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    SdkError,
    http::{Http, keys, now_ms, save_tokens},
    store::{self, Store},
    sync::Op,
    watermark::{Stamp, WatermarkedPhoto},
};

/// Where the institution's check-in thresholds are kept.
const CHECKIN_RULES: &str = "checkin_rules";

/// The signed-in officer.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Officer {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Name to show.
    pub display_name: String,
    /// Organisation.
    pub organisation_id: String,
}

/// A task of the agenda, as kept on the device.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct AgendaTask {
    /// Task id.
    pub id: String,
    /// What to do: `on_site_inspection`, `collateral_check`…
    pub kind: String,
    /// Where it stands: `assigned`, `in_progress`, `submitted`, `returned`…
    pub status: String,
    /// Due date, `YYYY-MM-DD`.
    pub due_date: String,
    /// Past its due date.
    pub overdue: bool,
    /// Borrower id.
    pub borrower_id: String,
    /// Borrower name.
    pub borrower_name: String,
    /// Loan id.
    pub loan_id: String,
    /// Times a supervisor returned it.
    pub returns: i32,
    /// The reviewer's comment on the last return.
    pub return_comment: Option<String>,
    /// Operations on this task still waiting to be sent.
    pub unsent: u32,
}

/// A position fix from the platform (Android `Location`, iOS `CLLocation`).
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct LocationFix {
    /// Latitude, degrees.
    pub latitude: f64,
    /// Longitude, degrees.
    pub longitude: f64,
    /// `wgs84` (GPS), `gcj02` (Chinese map SDKs) or `bd09` (Baidu).
    pub datum: String,
    /// Accuracy radius, metres.
    pub accuracy_m: f64,
    /// `gps`, `network`, `fused`…
    pub provider: String,
    /// The platform flagged the location as mocked.
    pub mock_location: bool,
    /// When the position was fixed, device clock, ms since 1970.
    pub fix_time_ms: i64,
}

/// Why a check-in would not be trusted.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct VerdictReason {
    /// `outside_geofence`, `low_accuracy`, `mock_location`, `clock_skew`, `stale_fix`,
    /// `impossible_travel`, `no_site`.
    pub flag: String,
    /// What was measured.
    pub detail: String,
}

/// The device's verdict on a check-in, told to the officer at once; the server judges it again
/// when it arrives.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CheckinVerdict {
    /// The check-in's id.
    pub checkin_id: String,
    /// Inside a site's geofence with nothing flagged.
    pub trusted: bool,
    /// The nearest site.
    pub site_name: Option<String>,
    /// Metres outside its geofence (0 inside).
    pub distance_m: Option<f64>,
    /// What is not right.
    pub reasons: Vec<VerdictReason>,
}

/// One item of a checklist, as shown now.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChecklistItem {
    /// Key.
    pub key: String,
    /// Section title, Chinese.
    pub section_zh: String,
    /// Section title, English.
    pub section_en: String,
    /// Label, Chinese.
    pub label_zh: String,
    /// Label, English.
    pub label_en: String,
    /// `yes_no`, `number`, `text`, `single_choice`, `multiple_choice`, `date`, `photo`,
    /// `video`, `check_in`.
    pub kind: String,
    /// Choices.
    pub options: Vec<String>,
    /// Smallest number.
    pub min: Option<f64>,
    /// Largest number.
    pub max: Option<f64>,
    /// Photos or videos needed.
    pub min_count: Option<u32>,
    /// Must be answered.
    pub required: bool,
    /// The answer so far, JSON.
    pub answer_json: Option<String>,
    /// Photos or videos attached so far.
    pub attached: u32,
}

/// A problem with an item.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ItemIssue {
    /// Item key.
    pub key: String,
    /// What is wrong or missing.
    pub message: String,
}

/// A task's checklist on the device.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Checklist {
    /// Task.
    pub task_id: String,
    /// Template code.
    pub template_code: String,
    /// Template version.
    pub template_version: u32,
    /// Template name, Chinese.
    pub name_zh: String,
    /// Template name, English.
    pub name_en: String,
    /// The items shown for the answers so far.
    pub items: Vec<ChecklistItem>,
    /// What still blocks sign-off.
    pub missing: Vec<ItemIssue>,
    /// A check-in is recorded.
    pub checked_in: bool,
    /// Signed off.
    pub signed: bool,
}

/// The local copy of an inspection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Draft {
    pub template: Template,
    pub class: LoanClass,
    pub answers: BTreeMap<String, Value>,
    pub evidence: BTreeMap<String, u32>,
    pub checked_in: bool,
    pub signed: bool,
}

/// A check-in made on this device, for its check-out.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MyCheckin {
    task_id: String,
    device_time_ms: i64,
}

/// The last check-in, for the local travel-speed check.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct LastCheckin {
    lat: f64,
    lng: f64,
    at_ms: i64,
}

/// The officer's client. Calls block: run them off the UI thread.
#[derive(uniffi::Object)]
pub struct Client {
    pub(crate) http: Http,
    pub(crate) store: Store,
    media: PathBuf,
    /// One sync at a time: two would send the same entries twice (harmless on the server, but
    /// wasted bytes on a phone's network).
    pub(crate) syncing: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("http", &self.http)
            .finish_non_exhaustive()
    }
}

fn parse_datum(datum: &str) -> Result<Datum, SdkError> {
    datum
        .parse()
        .map_err(|_| SdkError::invalid("datum", "must be wgs84, gcj02 or bd09"))
}

fn utc_ms(ms: i64, field: &str) -> Result<DateTime<Utc>, SdkError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| SdkError::invalid(field, "is not a time"))
}

#[uniffi::export]
impl Client {
    /// A client of the server at `server_url` (`https://loanwatch.example.cn`) keeping its data
    /// in `data_dir` (the app's private files directory).
    #[uniffi::constructor]
    pub fn new(server_url: String, data_dir: String) -> Result<Arc<Self>, SdkError> {
        let dir = PathBuf::from(data_dir);
        let media = dir.join("media");
        std::fs::create_dir_all(&media)?;
        Ok(Arc::new(Self {
            http: Http::new(&server_url)?,
            store: Store::open(&dir.join("loanwatch.db"))?,
            media,
            syncing: std::sync::Mutex::new(()),
        }))
    }

    /// Signs in. Work queued by another officer on this device must be sent (or discarded)
    /// first.
    pub fn login(&self, username: String, password: String) -> Result<Officer, SdkError> {
        let body = serde_json::to_value(LoginRequest { username, password })?;
        let answer = self
            .http
            .send(&self.store, "POST", "/auth/login", None, Some(&body))?;
        if answer.status == 401 {
            return Err(SdkError::Auth {
                detail: "wrong username or password".into(),
            });
        }
        let tokens: TokenResponse = answer.json()?;
        let me: Me = self
            .http
            .send(&self.store, "GET", "/me", Some(&tokens.access_token), None)?
            .json()?;
        let officer = Officer {
            id: me.id,
            username: me.name,
            display_name: me.display_name.unwrap_or_default(),
            organisation_id: me.organisation_id.to_string(),
        };
        if let Some(previous) = self.officer()?
            && previous.id != officer.id
            && !self.outbox()?.is_empty()
        {
            return Err(SdkError::conflict(format!(
                "{} has work on this device that is not sent yet",
                previous.display_name
            )));
        }
        save_tokens(&self.store, &tokens)?;
        let doc = serde_json::to_string(&OfficerDoc::from(&officer))?;
        self.store
            .write(|tx| store::put(tx, keys::OFFICER, Some(&doc)))?;
        // Enrolment: the first sign-in of this officer on this phone makes the device key.
        self.enrol(
            &officer.id,
            &format!("{} phone of {}", std::env::consts::OS, officer.username),
        )?;
        Ok(officer)
    }

    /// The signed-in officer, if any (works offline).
    pub fn officer(&self) -> Result<Option<Officer>, SdkError> {
        let signed_in = self.store.get(keys::REFRESH)?.is_some();
        Ok(match self.store.get(keys::OFFICER)? {
            Some(doc) if signed_in => Some(serde_json::from_str::<OfficerDoc>(&doc)?.into()),
            _ => None,
        })
    }

    /// Exchanges the refresh token for fresh tokens now (they are also refreshed by themselves
    /// when needed).
    pub fn refresh(&self) -> Result<(), SdkError> {
        self.http.refresh(&self.store)
    }

    /// Signs out: the server revokes the refresh token (when it can be reached) and the device
    /// forgets the tokens. Queued work stays and is sent after the same officer signs in again.
    pub fn logout(&self) -> Result<(), SdkError> {
        if let Some(refresh) = self.store.get(keys::REFRESH)? {
            let body = serde_json::to_value(RefreshRequest {
                refresh_token: refresh,
            })?;
            // Offline, the token simply runs out on the server.
            let _ = self
                .http
                .send(&self.store, "POST", "/auth/logout", None, Some(&body));
        }
        self.store.write(|tx| {
            for k in [keys::ACCESS, keys::REFRESH, keys::EXPIRES_MS] {
                store::put(tx, k, None)?;
            }
            Ok(())
        })
    }

    /// Downloads my open tasks due from `from` to `to` (`YYYY-MM-DD`; today and 30 days on when
    /// absent), the borrowers' names and sites, the loans and the checklist templates, so the
    /// visits can be done without a network. Local work not yet sent is kept.
    pub fn download_agenda(
        &self,
        from: Option<String>,
        to: Option<String>,
    ) -> Result<Vec<AgendaTask>, SdkError> {
        let mut query = Vec::new();
        for (name, value) in [("from", from), ("to", to)] {
            if let Some(v) = value {
                v.parse::<NaiveDate>()
                    .map_err(|_| SdkError::invalid(name, "must be YYYY-MM-DD"))?;
                query.push(format!("{name}={v}"));
            }
        }
        let path = format!("/me/agenda?{}", query.join("&"));
        let tasks: Vec<Task> = self.http.call::<(), _>(&self.store, "GET", &path, None)?;
        let mut borrowers = BTreeMap::new();
        for id in tasks
            .iter()
            .map(|t| t.borrower_id.clone())
            .collect::<BTreeSet<_>>()
        {
            let b: Borrower =
                self.http
                    .call::<(), _>(&self.store, "GET", &format!("/borrowers/{id}"), None)?;
            let sites: Vec<Site> = self.http.call::<(), _>(
                &self.store,
                "GET",
                &format!("/borrowers/{id}/sites"),
                None,
            )?;
            borrowers.insert(id, (b.name, sites));
        }
        let mut loans = BTreeMap::new();
        for id in tasks
            .iter()
            .map(|t| t.loan_id.clone())
            .collect::<BTreeSet<_>>()
        {
            let l: Loan =
                self.http
                    .call::<(), _>(&self.store, "GET", &format!("/loans/{id}"), None)?;
            loans.insert(id, l);
        }
        let templates: Vec<Template> =
            self.http
                .call::<(), _>(&self.store, "GET", "/checklist-templates", None)?;
        let rules: CheckinRules =
            self.http
                .call::<(), _>(&self.store, "GET", "/checkin-rules", None)?;
        // Inspections already started on the server (on another device, or before a return).
        let mut started = BTreeMap::new();
        for t in tasks.iter().filter(|t| t.status == TaskStatus::InProgress) {
            let answer = self.http.authed(
                &self.store,
                "GET",
                &format!("/tasks/{}/inspection", t.id),
                None,
            )?;
            if answer.status == 404 {
                continue;
            }
            let i: Inspection = answer.json()?;
            started.insert(t.id.clone(), i);
        }
        let with_history = tasks
            .into_iter()
            .map(|t| {
                if t.returns > 0 {
                    self.http.call::<(), Task>(
                        &self.store,
                        "GET",
                        &format!("/tasks/{}", t.id),
                        None,
                    )
                } else {
                    Ok(t)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;

        self.store.write(|tx| {
            store::put(tx, CHECKIN_RULES, Some(&serde_json::to_string(&rules)?))?;
            let unsent: BTreeSet<String> =
                store::entries(tx)?.into_iter().map(|e| e.task_id).collect();
            tx.execute(
                "DELETE FROM tasks WHERE id NOT IN (SELECT task_id FROM outbox)",
                [],
            )?;
            for t in with_history.iter().filter(|t| !unsent.contains(&t.id)) {
                put_task(tx, t)?;
            }
            for (id, (name, sites)) in &borrowers {
                tx.execute(
                    "INSERT INTO borrowers (id, name, sites) VALUES (?1, ?2, ?3)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, sites = excluded.sites",
                    params![id, name, serde_json::to_string(sites)?],
                )?;
            }
            for (id, l) in &loans {
                tx.execute(
                    "INSERT INTO loans (id, doc) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                    params![id, serde_json::to_string(l)?],
                )?;
            }
            for t in &templates {
                tx.execute(
                    "INSERT INTO templates (code, version, doc) VALUES (?1, ?2, ?3)
                     ON CONFLICT (code, version) DO UPDATE SET doc = excluded.doc",
                    params![t.code, t.version, serde_json::to_string(t)?],
                )?;
            }
            for (task_id, i) in &started {
                if unsent.contains(task_id) {
                    continue;
                }
                let class = loans
                    .get(
                        &with_history
                            .iter()
                            .find(|t| &t.id == task_id)
                            .map(|t| t.loan_id.clone())
                            .unwrap_or_default(),
                    )
                    .map_or(LoanClass::Normal, |l| l.class);
                let draft = Draft {
                    template: i.template.clone(),
                    class,
                    answers: i.answers.clone(),
                    evidence: i.evidence.clone(),
                    checked_in: i.checked_in,
                    signed: i.signed_by.is_some(),
                };
                put_draft(tx, task_id, &draft)?;
            }
            // A task that left the agenda (reassigned, approved) keeps no local checklist.
            tx.execute(
                "DELETE FROM inspections WHERE task_id NOT IN (SELECT id FROM tasks)",
                [],
            )?;
            Ok(())
        })?;
        self.agenda()
    }

    /// The agenda as kept on the device, most urgent first (works offline).
    pub fn agenda(&self) -> Result<Vec<AgendaTask>, SdkError> {
        let conn = self.store.lock()?;
        let mut stmt = conn.prepare(
            "SELECT t.doc, COALESCE(b.name, ''),
                    (SELECT COUNT(*) FROM outbox o WHERE o.task_id = t.id)
             FROM tasks t LEFT JOIN borrowers b ON b.id = json_extract(t.doc, '$.borrower_id')",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, u32>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (doc, borrower_name, unsent) = row?;
            let t: Task = serde_json::from_str(&doc)?;
            let return_comment = t.history.as_ref().and_then(|h| {
                h.iter()
                    .rev()
                    .find(|e| e.to_status == TaskStatus::Returned)
                    .and_then(|e| e.comment.clone())
            });
            out.push(AgendaTask {
                id: t.id,
                kind: t.kind.as_str().to_owned(),
                status: t.status.as_str().to_owned(),
                due_date: t.due_date.to_string(),
                overdue: t.overdue,
                borrower_id: t.borrower_id,
                borrower_name,
                loan_id: t.loan_id,
                returns: t.returns,
                return_comment,
                unsent,
            });
        }
        out.sort_by(|a, b| (!a.overdue, &a.due_date).cmp(&(!b.overdue, &b.due_date)));
        Ok(out)
    }

    /// Starts a task (assigned or returned → in progress), on the device at once and on the
    /// server at the next sync.
    pub fn start_task(&self, task_id: String) -> Result<(), SdkError> {
        let mut task = self.task(&task_id)?;
        if !matches!(task.status, TaskStatus::Assigned | TaskStatus::Returned) {
            return Err(SdkError::conflict(format!(
                "the task is {}, not assigned or returned",
                task.status.as_str()
            )));
        }
        task.status = TaskStatus::InProgress;
        self.store.write(|tx| {
            put_task(tx, &task)?;
            if task.returns > 0 {
                // The rework starts from what the reviewer returned: the answers stay, the
                // sign-off goes.
                if let Some(mut d) = draft(tx, &task.id)? {
                    d.signed = false;
                    put_draft(tx, &task.id, &d)?;
                }
            }
            queue(tx, &task.id, &Op::StartTask)
        })
    }

    /// Checks in on site with the platform's fix: judged on the device against the borrower's
    /// sites at once (the server judges it again on arrival) and queued.
    pub fn check_in(&self, task_id: String, fix: LocationFix) -> Result<CheckinVerdict, SdkError> {
        let task = self.in_progress(&task_id)?;
        let datum = parse_datum(&fix.datum)?;
        let point = LatLng::new(fix.latitude, fix.longitude)
            .ok_or_else(|| SdkError::invalid("latitude", "is not a position on Earth"))?;
        if !(fix.accuracy_m.is_finite() && fix.accuracy_m > 0.0) {
            return Err(SdkError::invalid("accuracy_m", "must be more than 0"));
        }
        let fix_time = utc_ms(fix.fix_time_ms, "fix_time_ms")?;
        let now = Utc::now();
        let offset = self.clock_offset_ms()?;
        let sites = self.sites(&task.borrower_id)?;
        // A site the server accepted draws a fence; one that somehow does not is no site. The
        // verdict names the nearest by its index among the fenced sites.
        let (fenced, fences): (Vec<&Site>, Vec<Geofence>) = sites
            .iter()
            .filter_map(|s| s.geometry.geofence(s.datum).ok().map(|g| (s, g)))
            .unzip();
        let last: Option<LastCheckin> = self
            .store
            .get("last_checkin")?
            .map(|d| serde_json::from_str(&d))
            .transpose()?;
        let verdict = judge(
            &CheckinInput {
                fix: Fix {
                    point,
                    datum,
                    accuracy_m: fix.accuracy_m,
                    mock: fix.mock_location,
                    fix_time,
                },
                device_time: now,
                sent_at: now,
                received_at: now + chrono::Duration::milliseconds(offset),
            },
            &fences,
            last.map(|l| PreviousCheckin {
                point: LatLng {
                    lat: l.lat,
                    lng: l.lng,
                },
                at: DateTime::from_timestamp_millis(l.at_ms).unwrap_or(now),
            }),
            &self.checkin_policy()?,
        );
        let id = uuid::Uuid::now_v7().to_string();
        let body = CreateCheckin {
            id: id.clone(),
            position: Coordinates {
                latitude: fix.latitude,
                longitude: fix.longitude,
            },
            datum,
            accuracy_m: fix.accuracy_m,
            provider: fix.provider,
            mock_location: fix.mock_location,
            device_time: now,
            fix_time,
            sent_at: None,
        };
        let last = serde_json::to_string(&LastCheckin {
            lat: verdict.point.lat,
            lng: verdict.point.lng,
            at_ms: verdict.at.timestamp_millis(),
        })?;
        let mine = serde_json::to_string(&MyCheckin {
            task_id: task_id.clone(),
            device_time_ms: now.timestamp_millis(),
        })?;
        self.store.write(|tx| {
            store::put(tx, "last_checkin", Some(&last))?;
            store::put(tx, &format!("checkin:{id}"), Some(&mine))?;
            if let Some(mut d) = draft(tx, &task_id)? {
                d.checked_in = true;
                put_draft(tx, &task_id, &d)?;
            }
            queue(tx, &task_id, &Op::Checkin { checkin: body })
        })?;
        Ok(CheckinVerdict {
            checkin_id: id,
            trusted: verdict.trusted(),
            site_name: verdict
                .site
                .and_then(|i| fenced.get(i))
                .map(|s| s.name.clone()),
            distance_m: verdict.distance_m,
            reasons: verdict
                .reasons
                .into_iter()
                .map(|r| VerdictReason {
                    flag: r.flag.as_str().to_owned(),
                    detail: r.detail,
                })
                .collect(),
        })
    }

    /// Checks out of a check-in made on this device, when the officer leaves the site: a visit
    /// shorter than the institution's minimum dwell is flagged at once (`short_dwell`), as the
    /// server will flag it, and the check-out is queued.
    pub fn check_out(&self, checkin_id: String) -> Result<Vec<VerdictReason>, SdkError> {
        let key = format!("checkin:{checkin_id}");
        let mine: MyCheckin = match self.store.get(&key)? {
            Some(doc) => serde_json::from_str(&doc)?,
            None => {
                return Err(SdkError::invalid(
                    "checkin_id",
                    "is not a check-in made on this device",
                ));
            }
        };
        if self.store.get(&format!("checkout:{checkin_id}"))?.is_some() {
            return Err(SdkError::conflict("checked out already"));
        }
        let now = Utc::now();
        let dwell_s = (now.timestamp_millis() - mine.device_time_ms) / 1000;
        let flagged = judge_dwell(dwell_s, &self.checkin_policy()?);
        self.store.write(|tx| {
            store::put(
                tx,
                &format!("checkout:{checkin_id}"),
                Some(&now.to_rfc3339()),
            )?;
            queue(
                tx,
                &mine.task_id,
                &Op::CheckOut {
                    checkin_id: checkin_id.clone(),
                    device_time: now,
                },
            )
        })?;
        Ok(flagged
            .into_iter()
            .map(|r| VerdictReason {
                flag: r.flag.as_str().to_owned(),
                detail: r.detail,
            })
            .collect())
    }

    /// The task's checklist, starting it on the device (and queueing the start for the server)
    /// the first time: the template is chosen from those downloaded exactly as the server
    /// chooses.
    pub fn checklist(&self, task_id: String) -> Result<Checklist, SdkError> {
        let task = self.in_progress(&task_id)?;
        if let Some(d) = draft(&*self.store.lock()?, &task_id)? {
            return Ok(view(&task_id, &d));
        }
        let loan: Loan = {
            let conn = self.store.lock()?;
            let doc: String = conn
                .query_row(
                    "SELECT doc FROM loans WHERE id = ?1",
                    [&task.loan_id],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or_else(|| SdkError::storage("the loan was not downloaded"))?;
            serde_json::from_str(&doc)?
        };
        let first = task.checkpoint
            == add_months(
                loan.disbursement_date,
                PlanConfig::default().first_inspection_months,
                None,
            );
        let template = Template::choose(
            self.latest_templates()?,
            task.kind,
            &loan.product,
            loan.class,
            first,
        )
        .ok_or_else(|| {
            SdkError::invalid(
                "task",
                "no downloaded checklist template serves this task; download the agenda again",
            )
        })?;
        let checked_in = store::entries(&*self.store.lock()?)?.iter().any(|e| {
            e.task_id == task_id
                && serde_json::from_str::<Op>(&e.op).is_ok_and(|o| matches!(o, Op::Checkin { .. }))
        });
        let d = Draft {
            template,
            class: loan.class,
            answers: BTreeMap::new(),
            evidence: BTreeMap::new(),
            checked_in,
            signed: false,
        };
        self.store.write(|tx| {
            put_draft(tx, &task_id, &d)?;
            queue(tx, &task_id, &Op::StartInspection)
        })?;
        Ok(view(&task_id, &d))
    }

    /// Answers an item (`value_json` is the JSON answer: `true`, `12.5`, `"text"`, `["a","b"]`,
    /// `"2026-11-24"`; `null` clears it), validated as the server validates.
    pub fn answer(
        &self,
        task_id: String,
        item_key: String,
        value_json: String,
    ) -> Result<Checklist, SdkError> {
        let value: Value = serde_json::from_str(&value_json)
            .map_err(|e| SdkError::invalid(&item_key, format!("is not JSON: {e}")))?;
        self.save(&task_id, BTreeMap::from([(item_key, value)]), false)
    }

    /// Signs the checklist off; refused while a required item, evidence or the check-in is
    /// missing.
    pub fn sign_off(&self, task_id: String) -> Result<Checklist, SdkError> {
        self.save(&task_id, BTreeMap::new(), true)
    }

    /// What a photo's watermark shows for this task, from a fix and the device clock. Times are
    /// shown in China Standard Time (UTC+8); an app elsewhere sets `utc_offset_minutes` on the
    /// returned stamp before watermarking.
    pub fn stamp(&self, task_id: String, fix: LocationFix) -> Result<Stamp, SdkError> {
        let task = self.task(&task_id)?;
        let officer = self.officer()?.ok_or(SdkError::Auth {
            detail: "not signed in".into(),
        })?;
        let borrower: String = self
            .store
            .lock()?
            .query_row(
                "SELECT name FROM borrowers WHERE id = ?1",
                [&task.borrower_id],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(task.borrower_id.clone());
        Ok(Stamp {
            latitude: fix.latitude,
            longitude: fix.longitude,
            datum: fix.datum,
            accuracy_m: fix.accuracy_m,
            device_time_ms: now_ms(),
            clock_offset_ms: self.clock_offset_ms()?,
            utc_offset_minutes: 480,
            officer: if officer.display_name.is_empty() {
                officer.username
            } else {
                officer.display_name
            },
            borrower,
            task: format!("{} {}", task.kind.as_str(), task.id),
        })
    }

    /// Attaches a watermarked photo to a checklist item: the bytes are written to the device
    /// and the upload queued, signed with the device key. Returns the evidence id.
    pub fn add_photo(
        &self,
        task_id: String,
        item_key: String,
        photo: WatermarkedPhoto,
        stamp: Stamp,
    ) -> Result<String, SdkError> {
        self.in_progress(&task_id)?;
        let id = uuid::Uuid::now_v7().to_string();
        let file = self.media.join(format!("{id}.jpg"));
        write_durably(&file, &photo.jpeg)?;
        let extra = serde_json::json!({ "width": photo.width, "height": photo.height });
        let size = photo.jpeg.len() as u64;
        self.attach(
            &task_id,
            &item_key,
            Captured {
                id,
                kind: EvidenceKind::Photo,
                content_type: "image/jpeg".into(),
                file,
                size,
                sha256: photo.sha256,
            },
            &stamp,
            extra,
        )
    }

    /// Attaches a video the camera recorded at `path` (`content_type` `video/mp4` or
    /// `video/quicktime`). The SDK takes the file over (it is moved into the SDK's storage), hashes
    /// it as a stream, and queues its upload, in parts where the server asks for them (a part
    /// the storage already holds is not sent again after a restart). `stamp` is what a photo's
    /// watermark would show; it goes with the video as its capture metadata. Returns the
    /// evidence id.
    pub fn add_video(
        &self,
        task_id: String,
        item_key: String,
        path: String,
        content_type: String,
        stamp: Stamp,
    ) -> Result<String, SdkError> {
        self.in_progress(&task_id)?;
        if !EvidenceKind::Video
            .content_types()
            .contains(&content_type.as_str())
        {
            return Err(SdkError::invalid(
                "content_type",
                format!(
                    "must be one of {}",
                    EvidenceKind::Video.content_types().join(", ")
                ),
            ));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let file = self.media.join(format!("{id}.video"));
        take_over(std::path::Path::new(&path), &file)?;
        let (size, sha256) = hash_file(&file)?;
        self.attach(
            &task_id,
            &item_key,
            Captured {
                id,
                kind: EvidenceKind::Video,
                content_type,
                file,
                size,
                sha256,
            },
            &stamp,
            serde_json::json!({}),
        )
    }
    /// Submits the task for review (after sign-off).
    pub fn submit(&self, task_id: String) -> Result<(), SdkError> {
        let mut task = self.in_progress(&task_id)?;
        if let Some(d) = draft(&*self.store.lock()?, &task_id)?
            && !d.signed
        {
            return Err(SdkError::invalid(
                "sign",
                "sign the checklist off before submitting",
            ));
        }
        task.status = TaskStatus::Submitted;
        self.store.write(|tx| {
            put_task(tx, &task)?;
            queue(tx, &task_id, &Op::Submit)
        })
    }
}

impl Client {
    /// Declares captured evidence (signed), counts it for its item and queues its upload; the
    /// file is removed again if that cannot be written.
    fn attach(
        &self,
        task_id: &str,
        item_key: &str,
        c: Captured,
        stamp: &Stamp,
        extra: Value,
    ) -> Result<String, SdkError> {
        let officer = self.officer()?.ok_or(SdkError::Auth {
            detail: "not signed in".into(),
        })?;
        let mut capture = serde_json::json!({
            "latitude": stamp.latitude,
            "longitude": stamp.longitude,
            "datum": stamp.datum,
            "accuracy_m": stamp.accuracy_m,
            "device_time_ms": stamp.device_time_ms,
            "clock_offset_ms": stamp.clock_offset_ms,
            "officer": stamp.officer,
            "borrower": stamp.borrower,
            "task": stamp.task,
        });
        if let (Some(c), Value::Object(e)) = (capture.as_object_mut(), extra) {
            c.extend(e);
        }
        let queued = (|| {
            let mut declare = DeclareEvidence {
                id: c.id.clone(),
                item_key: item_key.to_owned(),
                kind: c.kind,
                content_type: c.content_type.clone(),
                size_bytes: c.size,
                sha256: c.sha256.clone(),
                captured_at: utc_ms(stamp.device_time_ms, "device_time_ms")?,
                capture,
                device_signature: None,
            };
            declare.device_signature = Some(self.sign(&officer.id, task_id, &declare)?);
            self.store.write(|tx| {
                if let Some(mut d) = draft(tx, task_id)? {
                    *d.evidence.entry(item_key.to_owned()).or_default() += 1;
                    d.signed = false;
                    put_draft(tx, task_id, &d)?;
                }
                queue(
                    tx,
                    task_id,
                    &Op::Evidence {
                        declare,
                        file: c.file.to_string_lossy().into_owned(),
                    },
                )
            })
        })();
        if queued.is_err() {
            let _ = std::fs::remove_file(&c.file);
        }
        queued.map(|()| c.id)
    }

    fn task(&self, task_id: &str) -> Result<Task, SdkError> {
        let doc: Option<String> = self
            .store
            .lock()?
            .query_row("SELECT doc FROM tasks WHERE id = ?1", [task_id], |r| {
                r.get(0)
            })
            .optional()?;
        let doc =
            doc.ok_or_else(|| SdkError::invalid("task_id", "is not on the downloaded agenda"))?;
        Ok(serde_json::from_str(&doc)?)
    }

    fn in_progress(&self, task_id: &str) -> Result<Task, SdkError> {
        let task = self.task(task_id)?;
        if task.status != TaskStatus::InProgress {
            return Err(SdkError::conflict(format!(
                "the task is {}; start it first",
                task.status.as_str()
            )));
        }
        Ok(task)
    }

    fn sites(&self, borrower_id: &str) -> Result<Vec<Site>, SdkError> {
        let doc: Option<String> = self
            .store
            .lock()?
            .query_row(
                "SELECT sites FROM borrowers WHERE id = ?1",
                [borrower_id],
                |r| r.get(0),
            )
            .optional()?;
        Ok(match doc {
            Some(d) => serde_json::from_str(&d)?,
            None => Vec::new(),
        })
    }

    fn latest_templates(&self) -> Result<Vec<Template>, SdkError> {
        let conn = self.store.lock()?;
        let mut stmt = conn.prepare(
            "SELECT doc FROM templates t WHERE version =
               (SELECT MAX(version) FROM templates u WHERE u.code = t.code)",
        )?;
        let docs = stmt.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for d in docs {
            out.push(serde_json::from_str(&d?)?);
        }
        Ok(out)
    }

    /// The institution's check-in thresholds as last downloaded (the defaults before).
    fn checkin_policy(&self) -> Result<CheckinPolicy, SdkError> {
        Ok(match self.store.get(CHECKIN_RULES)? {
            Some(doc) => serde_json::from_str::<CheckinRules>(&doc)?.into(),
            None => CheckinPolicy::default(),
        })
    }

    /// Server clock minus device clock, ms (0 until measured).
    pub(crate) fn clock_offset_ms(&self) -> Result<i64, SdkError> {
        Ok(self
            .store
            .get(keys::CLOCK_OFFSET_MS)?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    fn save(
        &self,
        task_id: &str,
        answers: BTreeMap<String, Value>,
        sign: bool,
    ) -> Result<Checklist, SdkError> {
        self.in_progress(task_id)?;
        let mut d = draft(&*self.store.lock()?, task_id)?
            .ok_or_else(|| SdkError::conflict("open the checklist first"))?;
        for (k, v) in &answers {
            if v.is_null() {
                d.answers.remove(k);
            } else {
                d.answers.insert(k.clone(), v.clone());
            }
        }
        if let Some(p) = d.template.check_answers(d.class, &d.answers).first() {
            return Err(SdkError::invalid(&p.key, &p.message));
        }
        d.signed = false;
        if sign {
            let missing = d
                .template
                .missing(d.class, &d.answers, &d.evidence, d.checked_in);
            if let Some(m) = missing.first() {
                return Err(SdkError::invalid(
                    &m.key,
                    format!("cannot sign off: {}", m.message),
                ));
            }
            d.signed = true;
        }
        self.store.write(|tx| {
            put_draft(tx, task_id, &d)?;
            queue(tx, task_id, &Op::SaveAnswers { answers, sign })
        })?;
        Ok(view(task_id, &d))
    }
}

#[derive(Serialize, Deserialize)]
struct OfficerDoc {
    id: String,
    username: String,
    display_name: String,
    organisation_id: String,
}

impl From<&Officer> for OfficerDoc {
    fn from(o: &Officer) -> Self {
        Self {
            id: o.id.clone(),
            username: o.username.clone(),
            display_name: o.display_name.clone(),
            organisation_id: o.organisation_id.clone(),
        }
    }
}

impl From<OfficerDoc> for Officer {
    fn from(o: OfficerDoc) -> Self {
        Self {
            id: o.id,
            username: o.username,
            display_name: o.display_name,
            organisation_id: o.organisation_id,
        }
    }
}

/// Evidence captured on the device, before it is declared.
struct Captured {
    id: String,
    kind: EvidenceKind,
    content_type: String,
    file: PathBuf,
    size: u64,
    sha256: String,
}

/// Moves a file the host hands over into the SDK's storage (copying across file systems) and
/// makes it durable there.
fn take_over(from: &std::path::Path, to: &std::path::Path) -> Result<(), SdkError> {
    if !from.is_file() {
        return Err(SdkError::invalid(
            "path",
            format!("{} is not a file", from.display()),
        ));
    }
    if std::fs::rename(from, to).is_err() {
        std::fs::copy(from, to)?;
        std::fs::File::open(to)?.sync_all()?;
        std::fs::remove_file(from)?;
    }
    std::fs::File::open(to)?.sync_all()?;
    if let Some(dir) = to.parent() {
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Size and SHA-256 of a file, read as a stream (a long video never sits in memory).
fn hash_file(path: &std::path::Path) -> Result<(u64, String), SdkError> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Writes a file and makes it durable before anything refers to it.
fn write_durably(path: &std::path::Path, bytes: &[u8]) -> Result<(), SdkError> {
    use std::io::Write;
    let tmp = path.with_extension("part");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // The rename itself is durable once the directory is synced (where the platform allows).
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

pub(crate) fn queue(tx: &rusqlite::Connection, task_id: &str, op: &Op) -> Result<(), SdkError> {
    store::enqueue(tx, task_id, &serde_json::to_string(op)?).map(|_| ())
}

pub(crate) fn put_task(tx: &rusqlite::Connection, t: &Task) -> Result<(), SdkError> {
    tx.execute(
        "INSERT INTO tasks (id, doc, version) VALUES (?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, version = excluded.version",
        params![t.id, serde_json::to_string(t)?, t.version],
    )?;
    Ok(())
}

pub(crate) fn draft(conn: &rusqlite::Connection, task_id: &str) -> Result<Option<Draft>, SdkError> {
    let row: Option<(String, String, String, bool, bool)> = conn
        .query_row(
            "SELECT template, answers, evidence, checked_in, signed FROM inspections
             WHERE task_id = ?1",
            [task_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let Some((template, answers, evidence, checked_in, signed)) = row else {
        return Ok(None);
    };
    let (template, class): (Template, LoanClass) = serde_json::from_str(&template)?;
    Ok(Some(Draft {
        template,
        class,
        answers: serde_json::from_str(&answers)?,
        evidence: serde_json::from_str(&evidence)?,
        checked_in,
        signed,
    }))
}

pub(crate) fn put_draft(
    tx: &rusqlite::Connection,
    task_id: &str,
    d: &Draft,
) -> Result<(), SdkError> {
    tx.execute(
        "INSERT INTO inspections (task_id, template, answers, evidence, checked_in, signed)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (task_id) DO UPDATE SET template = excluded.template,
             answers = excluded.answers, evidence = excluded.evidence,
             checked_in = excluded.checked_in, signed = excluded.signed",
        params![
            task_id,
            serde_json::to_string(&(&d.template, d.class))?,
            serde_json::to_string(&d.answers)?,
            serde_json::to_string(&d.evidence)?,
            d.checked_in,
            d.signed
        ],
    )?;
    Ok(())
}

fn view(task_id: &str, d: &Draft) -> Checklist {
    let mut items = Vec::new();
    for section in &d.template.sections {
        for item in &section.items {
            if !d.template.shown(item, d.class, &d.answers) {
                continue;
            }
            let (kind, options, min, max, min_count) = match &item.kind {
                ItemKind::YesNo => ("yes_no", vec![], None, None, None),
                ItemKind::Number { min, max } => ("number", vec![], *min, *max, None),
                ItemKind::Text => ("text", vec![], None, None, None),
                ItemKind::SingleChoice { options } => {
                    ("single_choice", options.clone(), None, None, None)
                }
                ItemKind::MultipleChoice { options } => {
                    ("multiple_choice", options.clone(), None, None, None)
                }
                ItemKind::Date => ("date", vec![], None, None, None),
                ItemKind::Photo { min_count } => ("photo", vec![], None, None, Some(*min_count)),
                ItemKind::Video { min_count } => ("video", vec![], None, None, Some(*min_count)),
                ItemKind::CheckIn => ("check_in", vec![], None, None, None),
            };
            items.push(ChecklistItem {
                key: item.key.clone(),
                section_zh: section.title.zh.clone(),
                section_en: section.title.en.clone(),
                label_zh: item.label.zh.clone(),
                label_en: item.label.en.clone(),
                kind: kind.into(),
                options,
                min,
                max,
                min_count,
                required: item.required,
                answer_json: d.answers.get(&item.key).map(Value::to_string),
                attached: d.evidence.get(&item.key).copied().unwrap_or(0),
            });
        }
    }
    Checklist {
        task_id: task_id.to_owned(),
        template_code: d.template.code.clone(),
        template_version: d.template.version,
        name_zh: d.template.name.zh.clone(),
        name_en: d.template.name.en.clone(),
        items,
        missing: d
            .template
            .missing(d.class, &d.answers, &d.evidence, d.checked_in)
            .into_iter()
            .map(|p| ItemIssue {
                key: p.key,
                message: p.message,
            })
            .collect(),
        checked_in: d.checked_in,
        signed: d.signed,
    }
}
