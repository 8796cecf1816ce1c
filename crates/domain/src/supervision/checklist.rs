//! Guided checklists (向导式检查): versioned templates of sections and items, chosen by product
//! and class, with items shown by an earlier answer; answers validated against the template
//! version an inspection started with; submission blocked while a required item or required
//! evidence is missing.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ledger::LoanClass;

/// A label in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Chinese (zh-CN).
    pub zh: String,
    /// English.
    pub en: String,
}

/// What kind of answer an item takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ItemKind {
    /// true or false.
    YesNo,
    /// A number, optionally within a range.
    Number {
        /// Smallest accepted.
        #[serde(default)]
        min: Option<f64>,
        /// Largest accepted.
        #[serde(default)]
        max: Option<f64>,
    },
    /// Free text.
    Text,
    /// One of the options.
    SingleChoice {
        /// The option codes.
        options: Vec<String>,
    },
    /// Any of the options.
    MultipleChoice {
        /// The option codes.
        options: Vec<String>,
    },
    /// A date (`YYYY-MM-DD`).
    Date,
    /// Photos attached as evidence; the answer is the number taken.
    Photo {
        /// At least this many.
        min_count: u32,
    },
    /// Videos attached as evidence.
    Video {
        /// At least this many.
        min_count: u32,
    },
    /// A GPS check-in on site (recorded by the field-evidence features).
    CheckIn,
}

/// Show an item only when an earlier item has a given answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ShowIf {
    /// The earlier item's key.
    pub item: String,
    /// The answer that shows this item.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub equals: Value,
}

/// One item to check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable key, unique in the template.
    pub key: String,
    /// What to check.
    pub label: Label,
    /// The kind of answer.
    pub kind: ItemKind,
    /// Must be answered before submission.
    #[serde(default)]
    pub required: bool,
    /// Shown only when an earlier answer matches.
    #[serde(default)]
    pub show_if: Option<ShowIf>,
    /// Shown only for these classes (all if empty).
    #[serde(default)]
    pub classes: Vec<LoanClass>,
}

/// A section of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Section {
    /// Title.
    pub title: Label,
    /// Items in order.
    pub items: Vec<Item>,
}

/// A versioned checklist template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Code, e.g. `enterprise_first_inspection`.
    pub code: String,
    /// Version; answers are validated against the version an inspection started with.
    pub version: u32,
    /// Name.
    pub name: Label,
    /// Task kinds it serves.
    pub task_kinds: Vec<super::TaskKind>,
    /// Serves only the first on-site inspection after disbursement.
    #[serde(default)]
    pub first_inspection_only: bool,
    /// Products it serves (all if empty).
    #[serde(default)]
    pub products: Vec<String>,
    /// Classes it serves (all if empty).
    #[serde(default)]
    pub classes: Vec<LoanClass>,
    /// Sections.
    pub sections: Vec<Section>,
}

/// An answer that is wrong, or a requirement not met, by item key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemProblem {
    /// The item key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

const SHIPPED: [&str; 3] = [
    include_str!("../../data/checklists/enterprise_first_inspection.json"),
    include_str!("../../data/checklists/enterprise_routine_inspection.json"),
    include_str!("../../data/checklists/collateral_check.json"),
];

impl Template {
    /// The default templates shipped with Loanwatch (`data/checklists/`).
    pub fn shipped() -> Vec<Self> {
        SHIPPED
            .iter()
            .filter_map(|t| serde_json::from_str(t).ok())
            .collect()
    }

    /// The template for a task: among those serving its kind, product and class (and, for
    /// first-inspection templates, only the first inspection), the most specific: made for the
    /// first inspection, then product-specific, then class-specific.
    pub fn choose(
        templates: impl IntoIterator<Item = Self>,
        kind: super::TaskKind,
        product: &str,
        class: LoanClass,
        first_inspection: bool,
    ) -> Option<Self> {
        templates
            .into_iter()
            .filter(|t| t.task_kinds.contains(&kind) && t.serves(product, class))
            .filter(|t| first_inspection || !t.first_inspection_only)
            .max_by_key(|t| {
                (
                    t.first_inspection_only,
                    !t.products.is_empty(),
                    !t.classes.is_empty(),
                )
            })
    }

    /// Checks the template: unique keys, conditions that refer to earlier items, sane options.
    pub fn validate(&self) -> Result<(), ItemProblem> {
        let mut seen: Vec<&str> = Vec::new();
        for item in self.items() {
            if item.key.is_empty() || seen.contains(&item.key.as_str()) {
                return Err(ItemProblem {
                    key: item.key.clone(),
                    message: "keys must be non-empty and unique".into(),
                });
            }
            if let Some(cond) = &item.show_if
                && !seen.contains(&cond.item.as_str())
            {
                return Err(ItemProblem {
                    key: item.key.clone(),
                    message: format!(
                        "show_if refers to {:?}, which is not an earlier item",
                        cond.item
                    ),
                });
            }
            if let ItemKind::SingleChoice { options } | ItemKind::MultipleChoice { options } =
                &item.kind
                && options.is_empty()
            {
                return Err(ItemProblem {
                    key: item.key.clone(),
                    message: "a choice needs options".into(),
                });
            }
            seen.push(&item.key);
        }
        Ok(())
    }

    /// Every item in order.
    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.sections.iter().flat_map(|s| s.items.iter())
    }

    /// Whether the template serves a product and class.
    pub fn serves(&self, product: &str, class: LoanClass) -> bool {
        (self.products.is_empty() || self.products.iter().any(|p| p == product))
            && (self.classes.is_empty() || self.classes.contains(&class))
    }

    /// Whether an item is shown, given the class and the answers so far.
    pub fn shown(&self, item: &Item, class: LoanClass, answers: &BTreeMap<String, Value>) -> bool {
        (item.classes.is_empty() || item.classes.contains(&class))
            && item
                .show_if
                .as_ref()
                .is_none_or(|c| answers.get(&c.item) == Some(&c.equals))
    }

    /// Checks answers against the template: unknown keys, answers to hidden items and answers of
    /// the wrong shape are refused.
    pub fn check_answers(
        &self,
        class: LoanClass,
        answers: &BTreeMap<String, Value>,
    ) -> Vec<ItemProblem> {
        let mut problems = Vec::new();
        for key in answers.keys() {
            if !self.items().any(|i| &i.key == key) {
                problems.push(ItemProblem {
                    key: key.clone(),
                    message: "is not an item of this template version".into(),
                });
            }
        }
        for item in self.items() {
            let Some(answer) = answers.get(&item.key) else {
                continue;
            };
            if !self.shown(item, class, answers) {
                problems.push(ItemProblem {
                    key: item.key.clone(),
                    message: "is not shown for these answers".into(),
                });
                continue;
            }
            if let Some(message) = shape_problem(&item.kind, answer) {
                problems.push(ItemProblem {
                    key: item.key.clone(),
                    message,
                });
            }
        }
        problems
    }

    /// What still blocks submission: required shown items unanswered, evidence short of its
    /// minimum, a check-in missing.
    pub fn missing(
        &self,
        class: LoanClass,
        answers: &BTreeMap<String, Value>,
        evidence: &BTreeMap<String, u32>,
        checked_in: bool,
    ) -> Vec<ItemProblem> {
        let mut out = Vec::new();
        for item in self.items().filter(|i| self.shown(i, class, answers)) {
            let problem = match &item.kind {
                ItemKind::Photo { min_count } | ItemKind::Video { min_count } => {
                    let have = evidence.get(&item.key).copied().unwrap_or(0);
                    (item.required || *min_count > 0) && have < *min_count
                }
                ItemKind::CheckIn => item.required && !checked_in,
                _ => item.required && answers.get(&item.key).is_none_or(Value::is_null),
            };
            if problem {
                let message = match &item.kind {
                    ItemKind::Photo { min_count } | ItemKind::Video { min_count } => {
                        format!("needs at least {min_count} attached")
                    }
                    ItemKind::CheckIn => "needs a GPS check-in on site".into(),
                    _ => "is required".into(),
                };
                out.push(ItemProblem {
                    key: item.key.clone(),
                    message,
                });
            }
        }
        out
    }
}

fn shape_problem(kind: &ItemKind, answer: &Value) -> Option<String> {
    match (kind, answer) {
        (_, Value::Null) => None,
        (ItemKind::YesNo, Value::Bool(_)) => None,
        (ItemKind::YesNo, _) => Some("must be true or false".into()),
        (ItemKind::Number { min, max }, Value::Number(n)) => {
            let v = n.as_f64().unwrap_or(f64::NAN);
            if min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m) {
                Some(format!(
                    "must be from {} to {}",
                    min.map_or("-∞".into(), |m| m.to_string()),
                    max.map_or("∞".into(), |m| m.to_string())
                ))
            } else {
                None
            }
        }
        (ItemKind::Number { .. }, _) => Some("must be a number".into()),
        (ItemKind::Text, Value::String(s)) if s.chars().count() <= 5000 => None,
        (ItemKind::Text, _) => Some("must be text of at most 5000 characters".into()),
        (ItemKind::SingleChoice { options }, Value::String(s)) if options.contains(s) => None,
        (ItemKind::SingleChoice { options }, _) => {
            Some(format!("must be one of {}", options.join(", ")))
        }
        (ItemKind::MultipleChoice { options }, Value::Array(a))
            if a.iter()
                .all(|v| v.as_str().is_some_and(|s| options.iter().any(|o| o == s))) =>
        {
            None
        }
        (ItemKind::MultipleChoice { options }, _) => {
            Some(format!("must be a list of {}", options.join(", ")))
        }
        (ItemKind::Date, Value::String(s)) if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => {
            None
        }
        (ItemKind::Date, _) => Some("must be a date YYYY-MM-DD".into()),
        (ItemKind::Photo { .. } | ItemKind::Video { .. } | ItemKind::CheckIn, _) => {
            Some("is answered by attaching evidence, not by a value".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn routine() -> Template {
        Template::shipped()
            .into_iter()
            .find(|t| t.code == "enterprise_routine_inspection")
            .expect("shipped")
    }

    fn answers(v: Value) -> BTreeMap<String, Value> {
        serde_json::from_value(v).expect("answers")
    }

    #[test]
    fn the_most_specific_template_serves_a_task() {
        use super::super::TaskKind;
        let pick = |class, first| {
            Template::choose(
                Template::shipped(),
                TaskKind::OnSiteInspection,
                "任意产品",
                class,
                first,
            )
            .map(|t| t.code)
        };
        assert_eq!(
            pick(LoanClass::Normal, true).as_deref(),
            Some("enterprise_first_inspection")
        );
        // Later inspections of the same loan use the routine template.
        assert_eq!(
            pick(LoanClass::Normal, false).as_deref(),
            Some("enterprise_routine_inspection")
        );
        assert_eq!(
            pick(LoanClass::Substandard, true).as_deref(),
            Some("enterprise_routine_inspection")
        );
        assert_eq!(
            Template::choose(
                Template::shipped(),
                TaskKind::Report,
                "x",
                LoanClass::Normal,
                true
            ),
            None
        );
    }

    #[test]
    fn the_shipped_templates_load_and_are_consistent() {
        let t = Template::shipped();
        assert_eq!(t.len(), 3);
        for template in &t {
            assert_eq!(template.validate(), Ok(()), "{}", template.code);
            assert!(
                template
                    .items()
                    .all(|i| !i.label.zh.is_empty() && !i.label.en.is_empty())
            );
        }
    }

    #[test]
    fn answers_of_the_wrong_shape_or_for_unknown_items_are_refused() {
        let t = routine();
        let a = answers(json!({
            "operations_status": "booming",
            "capacity_utilisation_pct": 140,
            "statements_obtained": "yes",
            "no_such_item": true,
            "site_photos": 3,
        }));
        let keys: Vec<String> = t
            .check_answers(LoanClass::Normal, &a)
            .into_iter()
            .map(|p| p.key)
            .collect();
        for k in [
            "operations_status",
            "capacity_utilisation_pct",
            "statements_obtained",
            "no_such_item",
            "site_photos",
        ] {
            assert!(keys.contains(&k.to_owned()), "{k} not refused: {keys:?}");
        }
    }

    #[test]
    fn a_follow_up_question_appears_only_after_its_trigger() {
        let t = routine();
        let hidden = answers(
            json!({ "key_person_changes": false, "key_person_changes_detail": "新任财务总监" }),
        );
        assert_eq!(
            t.check_answers(LoanClass::Normal, &hidden).len(),
            1,
            "an answer to a hidden item"
        );
        let shown = answers(json!({ "key_person_changes": true }));
        let missing = t.missing(LoanClass::Normal, &shown, &BTreeMap::new(), true);
        assert!(missing.iter().any(|p| p.key == "key_person_changes_detail"));
    }

    #[test]
    fn submission_is_blocked_until_required_answers_and_evidence_are_in() {
        let t = routine();
        let mut a = BTreeMap::new();
        let evidence = BTreeMap::from([("site_photos".to_owned(), 1)]);
        let missing = t.missing(LoanClass::Normal, &a, &evidence, false);
        assert!(missing.iter().any(|p| p.key == "check_in"));
        assert!(
            missing
                .iter()
                .any(|p| p.key == "site_photos" && p.message.contains('2'))
        );
        // Answer what is shown, as an officer walks the wizard, until nothing new appears.
        loop {
            let before = a.len();
            let shown: Vec<Item> = t
                .items()
                .filter(|i| i.required && t.shown(i, LoanClass::Normal, &a))
                .cloned()
                .collect();
            for item in shown {
                let value = match &item.kind {
                    ItemKind::YesNo => json!(true),
                    ItemKind::SingleChoice { options } => json!(options[0]),
                    ItemKind::Text => json!("正常"),
                    _ => continue,
                };
                a.entry(item.key.clone()).or_insert(value);
            }
            if a.len() == before {
                break;
            }
        }
        assert!(
            a.contains_key("key_person_changes_detail"),
            "the follow-up was shown and answered"
        );
        let evidence = BTreeMap::from([("site_photos".to_owned(), 2)]);
        assert_eq!(t.check_answers(LoanClass::Normal, &a), []);
        assert_eq!(t.missing(LoanClass::Normal, &a, &evidence, true), []);
    }
}
