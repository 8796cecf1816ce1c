//! Printable text of notices, in zh-CN and English.

use loanwatch_api_types::notice::NoticeText;
use loanwatch_domain::notice::NoticeKind;

/// What the text needs to name.
#[derive(Debug, Clone)]
pub struct TextFacts<'a> {
    /// What the notice is.
    pub kind: NoticeKind,
    /// Borrower's name.
    pub borrower: &'a str,
    /// Addressee's name (the borrower, a guarantor, the officer or the branch).
    pub addressee: &'a str,
    /// Contract number.
    pub contract_no: &'a str,
    /// Reference date.
    pub date: chrono::NaiveDate,
    /// Deadline.
    pub due_date: chrono::NaiveDate,
    /// Amount in fen.
    pub amount_fen: i64,
    /// Currency code.
    pub currency: &'a str,
}

/// The notice's text.
pub fn render(f: &TextFacts<'_>) -> NoticeText {
    let (b, a, c, d, due, cur) = (
        f.borrower,
        f.addressee,
        f.contract_no,
        f.date,
        f.due_date,
        f.currency,
    );
    let amt = loanwatch_domain::money::yuan(f.amount_fen);
    let (zh_cn, en) = match f.kind {
        NoticeKind::MaturityNotice => (
            format!(
                "贷款到期通知书\n{a}：\n贵方在我行的借款（合同编号 {c}）将于 {d} 到期，尚欠本金 {cur} {amt} 元。请于到期日前备足资金，按时足额归还。"
            ),
            format!(
                "Loan maturity notice\nTo {a}:\nYour loan under contract {c} matures on {d}; principal outstanding {cur} {amt}. Please have the funds ready and repay in full on time."
            ),
        ),
        NoticeKind::InterestReminder => (
            format!(
                "付息提示\n{a}：\n合同编号 {c} 项下利息 {cur} {amt} 元将于 {d} 到期，请提前备足资金。"
            ),
            format!(
                "Interest reminder\nTo {a}:\nInterest of {cur} {amt} under contract {c} falls due on {d}. Please have the funds ready."
            ),
        ),
        NoticeKind::DueDateCheck => (
            format!(
                "到期核查\n{a}：\n请于 {d} 核实借款人 {b}（合同编号 {c}）本期应还本息 {cur} {amt} 元是否已足额归还。"
            ),
            format!(
                "Due-date check\nTo {a}:\nOn {d}, check whether borrower {b} (contract {c}) has paid this instalment of {cur} {amt} in full."
            ),
        ),
        NoticeKind::PrincipalCollection => (
            format!(
                "催收通知书\n{a}：\n贵方借款（合同编号 {c}）于 {d} 到期的本金 {cur} {amt} 元尚未归还，已构成逾期。请立即归还；逾期本金按合同约定计收罚息。本通知应于 {due} 前送达。"
            ),
            format!(
                "Collection notice\nTo {a}:\nPrincipal of {cur} {amt} under contract {c}, due on {d}, is unpaid and overdue. Please repay at once; overdue principal bears penalty interest as the contract provides. To be delivered by {due}."
            ),
        ),
        NoticeKind::GuaranteePerformance => (
            format!(
                "履行担保责任通知书\n{a}：\n借款人 {b} 在合同编号 {c} 项下于 {d} 到期的本金 {cur} {amt} 元未按期归还。根据保证合同约定，请贵方履行保证责任，代为清偿。本通知应于 {due} 前送达。"
            ),
            format!(
                "Notice to perform the guarantee\nTo {a}:\nBorrower {b} has not repaid principal of {cur} {amt} under contract {c}, due on {d}. Under the guarantee contract, please perform your guarantee and pay on the borrower's behalf. To be delivered by {due}."
            ),
        ),
        NoticeKind::InterestCollection => (
            format!(
                "催收通知书（利息）\n{a}：\n贵方借款（合同编号 {c}）于 {d} 应付利息 {cur} {amt} 元尚未支付。请立即支付；逾期利息按合同约定计收复利。本通知应于 {due} 前送达。"
            ),
            format!(
                "Collection notice (interest)\nTo {a}:\nInterest of {cur} {amt} under contract {c}, due on {d}, is unpaid. Please pay at once; overdue interest bears compound interest as the contract provides. To be delivered by {due}."
            ),
        ),
        NoticeKind::DefaultReport => (
            format!(
                "违约报告\n{a} 贷后管理岗：\n借款人 {b}（合同编号 {c}）于 {d} 到期的本息 {cur} {amt} 元未按期偿还，特此报告。"
            ),
            format!(
                "Default report\nTo the post-loan desk of {a}:\nBorrower {b} (contract {c}) has not paid {cur} {amt} of principal and interest due on {d}."
            ),
        ),
    };
    NoticeText { zh_cn, en }
}
