//! Today's rules tried on stored orders, writing nothing: `vigie rules test` (one order, each
//! rule with its result and the facts it read) and `vigie rules replay` (the orders judged
//! within a window, against what was decided then). An order is judged again from what its
//! judgement kept: the order as the marketplace showed it, what the ledger found for its
//! lines, and its customer's history as it stood.

use jiff::Timestamp;
use rusqlite::Connection;

use crate::config::Config;
use crate::domain::customer::{self, Judging, PastOrder};
use crate::domain::judgment::{self, Case, Judged, Ruled};
use crate::domain::replay::{self, Rejudged};
use crate::domain::rules::LineStock;
use crate::store::judgments::{self, Judgment};
use crate::store::{self, customers, order_facts, stock};

/// One stored order judged by today's rules.
#[derive(Debug, Clone)]
pub struct Tried {
    pub judged_at: Timestamp,
    /// What the rules decided when the order came; `None` when they never judged it (it was
    /// decided elsewhere, or before vigie kept judgements): it is then judged on today's
    /// ledger, every line counted in stock.
    pub then: Option<Ruled>,
    pub judged: Judged,
}

/// `rules test`: today's rules on the stored order `channel:order_id`; `None` when vigie
/// does not have it.
pub fn test(
    conn: &Connection,
    config: &Config,
    channel: &str,
    order_id: &str,
) -> store::Result<Option<Tried>> {
    let Some((order_pk, order)) = order_facts::find(conn, channel, order_id)? else {
        return Ok(None);
    };
    if let Some(judgment) = judgments::of_order(conn, order_pk)? {
        let history = judgment
            .customer_key
            .as_deref()
            .map(|key| customers::orders_of(conn, key))
            .transpose()?;
        return Ok(Some(Tried {
            judged_at: judgment.judged_at,
            then: Some(judgment.inputs.decided.clone()),
            judged: rejudge(config, &judgment, history.as_deref()),
        }));
    }
    let judged_at = Timestamp::now();
    let mut lines = Vec::with_capacity(order.lines.len());
    for line in &order.lines {
        let listed = stock::listed(conn, &line.sku)?;
        lines.push(LineStock {
            line_id: line.id.clone(),
            reserved: true,
            known: listed.is_some(),
            tags: listed.unwrap_or_default(),
        });
    }
    let this = Judging {
        order_pk,
        created_at: order.created_at,
        judged_at,
    };
    let (_, customer) = customers::facts(conn, this)?;
    let case = Case {
        channel,
        order: &order,
        lines: &lines,
        partial_allowed: false,
        customer: &customer,
        judged_at,
    };
    Ok(Some(Tried {
        judged_at,
        then: None,
        judged: judgment::judge(&config.rules, case, &config.daemon.timezone),
    }))
}

/// What `rules replay` found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Replay {
    pub since: String,
    #[serde(flatten)]
    pub report: replay::Report,
    /// Orders the rules decided in the window before vigie kept judgements: not replayed.
    pub not_replayable: i64,
}

/// `rules replay`: today's rules over the orders judged since `since`.
pub fn replay(conn: &Connection, config: &Config, since: Timestamp) -> store::Result<Replay> {
    let histories = customers::all(conn)?;
    let mut rejudged = Vec::new();
    for judgment in judgments::since(conn, since)? {
        let history = judgment
            .customer_key
            .as_deref()
            .map(|key| histories.get(key).map_or(&[][..], Vec::as_slice));
        let judged = rejudge(config, &judgment, history);
        let order = &judgment.inputs.order;
        rejudged.push(Rejudged {
            order: format!("{}:{}", judgment.channel, order.id),
            then: judgment.inputs.decided.clone(),
            now: Ruled::from(&judged.verdict),
        });
    }
    Ok(Replay {
        since: store::time_text(since),
        report: replay::compare(rejudged),
        not_replayable: judgments::unrecorded_since(conn, since)?,
    })
}

/// Today's rules on a judgement's inputs; `history` is the customer's orders (`None` for a
/// customer vigie could not recognise).
fn rejudge(config: &Config, judgment: &Judgment, history: Option<&[PastOrder]>) -> Judged {
    let inputs = &judgment.inputs;
    let this = Judging {
        order_pk: judgment.order_pk,
        created_at: inputs.order.created_at,
        judged_at: judgment.judged_at,
    };
    let customer = customer::history(this, history);
    let case = Case {
        channel: &judgment.channel,
        order: &inputs.order,
        lines: &inputs.lines,
        partial_allowed: inputs.partial_allowed,
        customer: &customer,
        judged_at: judgment.judged_at,
    };
    judgment::judge(&config.rules, case, &config.daemon.timezone)
}
