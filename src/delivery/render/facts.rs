//! The facts a message is written from, captured when the event happens, and how they become
//! template variables (dates in the seller's time zone, amounts as the locale writes them).
//! What vigie knows of the customer is the same [`CustomerFacts`] the seller's rules read.

use std::str::FromStr;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use vigie_connector::{
    Address, Cancellation, CancellationKind, Country, Customer, Decimal, MarketplaceState, Money,
    Order, OrderLine, OrderStatus, Shipment,
};

use super::templates::{LineContext, MessageContext, is_built_in};
use crate::config::Config;
use crate::domain::customer::{CustomerFacts, Judging};
use crate::events::OrderEvent;
use crate::store::{self, customers, order_facts};

/// What the outbox job carries: everything a message or a seller webhook needs, as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub channel: String,
    pub event: OrderEvent,
    /// The locale chosen when the event happened (the customer's, if templates exist for it).
    pub locale: String,
    pub occurred_at: String,
    pub order: Order,
    /// `customer.first_order`, where seller webhooks have always read it.
    pub first_order: bool,
    /// What vigie knew of the customer when the event happened (none in jobs queued by an
    /// older vigie).
    #[serde(default)]
    pub customer: CustomerFacts,
    /// Rule codes of the refused lines (`insufficient_stock`...).
    pub reasons: Vec<String>,
    /// Ids of the lines refused by the seller's decision or the marketplace.
    pub refused_lines: Vec<String>,
    pub deadline: Option<Timestamp>,
    pub expected_dispatch: Option<Timestamp>,
    /// A `delayed` about a parcel past its shipping deadline, not about a late decision.
    #[serde(default)]
    pub shipping_late: bool,
}

/// Reads what the store knows about the order at the moment of `event`.
pub(in crate::delivery) fn gather(
    conn: &Connection,
    config: &Config,
    channel: &str,
    order_pk: i64,
    event: OrderEvent,
    order: &Order,
    now: &str,
) -> store::Result<Facts> {
    let occurred = Timestamp::from_str(now).ok();
    let this = Judging {
        order_pk,
        created_at: order.created_at,
        judged_at: occurred.unwrap_or(order.updated_at),
    };
    let (_, customer) = customers::facts(conn, this)?;
    let mut reasons: Vec<String> = Vec::new();
    let mut refused_lines: Vec<String> = Vec::new();
    for (line_id, codes) in order_facts::refused_lines(conn, order_pk)? {
        refused_lines.push(line_id);
        for code in codes {
            if !reasons.contains(&code) {
                reasons.push(code);
            }
        }
    }
    for line in &order.lines {
        let refused = matches!(
            line.state.status,
            OrderStatus::Refused | OrderStatus::Cancelled
        );
        if refused && !refused_lines.contains(&line.id) {
            refused_lines.push(line.id.clone());
        }
    }
    let deadline = match order.acceptance_deadline {
        Some(deadline) => Some(deadline),
        None => order_facts::deadline(conn, order_pk)?,
    };
    let expected_dispatch = match (event, config.notify.dispatch_within, occurred) {
        (OrderEvent::Accepted, Some(within), Some(at)) => jiff::SignedDuration::try_from(within)
            .ok()
            .and_then(|d| at.checked_add(d).ok()),
        _ => None,
    };
    Ok(Facts {
        channel: channel.to_owned(),
        event,
        locale: choose_locale(config, channel, order.customer.locale.as_deref()),
        occurred_at: now.to_owned(),
        order: order.clone(),
        first_order: customer.first_order,
        customer,
        reasons,
        refused_lines,
        deadline,
        expected_dispatch,
        shipping_late: false,
    })
}

/// The customer's language when templates exist for it, else the channel's.
fn choose_locale(config: &Config, channel: &str, customer: Option<&str>) -> String {
    let fallback = config
        .notify
        .channel(channel)
        .map_or_else(|| config.notify.locale.clone(), |c| c.locale.clone());
    let Some(customer) = customer else {
        return fallback;
    };
    // `fr_FR`, `fr-FR`, `FR` -> `fr`
    let language = customer
        .split(['_', '-'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let available = !language.is_empty()
        && language.chars().all(|c| c.is_ascii_alphabetic())
        && (is_built_in(&language) || config.notify.templates_dir.join(&language).is_dir());
    if available { language } else { fallback }
}

/// The template variables for `facts`, written for `locale`.
pub fn context(config: &Config, facts: &Facts, locale: &str) -> MessageContext {
    let order = &facts.order;
    let tz = &config.daemon.timezone;
    let shipment = order.shipment.clone().unwrap_or_default();
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let reason = if facts.reasons.iter().any(|r| r == "insufficient_stock") {
        Some("insufficient_stock".to_owned())
    } else {
        facts.reasons.first().cloned()
    };
    MessageContext {
        event: facts.event.as_str(),
        shop_name: config.daemon.shop_name.clone(),
        channel: facts.channel.clone(),
        order_id: order.id.clone(),
        order_reference: order.reference.clone(),
        customer_first_name: clean(&order.customer.first_name),
        customer_last_name: clean(&order.customer.last_name),
        lines: order
            .lines
            .iter()
            .map(|line| LineContext {
                title: clean(&line.title).unwrap_or_else(|| line.sku.clone()),
                sku: line.sku.clone(),
                quantity: line.quantity,
                price: money(locale, &line.price),
                refused: facts.refused_lines.contains(&line.id),
                taken_back: taken_back(facts.event, line).map(|c| c.quantity).sum(),
                taken_back_reason: taken_back(facts.event, line).find_map(|c| clean(&c.reason)),
            })
            .collect(),
        total: money(locale, &order.total),
        expected_dispatch: facts.expected_dispatch.map(|t| date(locale, tz, t)),
        tracking_number: clean(&shipment.tracking_number),
        carrier: clean(&shipment.carrier_name).or_else(|| clean(&shipment.carrier_code)),
        // Only web links: a marketplace field must never become a `javascript:` href.
        tracking_link: clean(&shipment.tracking_url)
            .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "https" | "http"))),
        deadline: facts.deadline.map(|t| date_time(locale, tz, t)),
        reason,
        compensation_code: config.notify.compensation_code.clone(),
        alternative: config.notify.refused_alternative.clone(),
        first_order: facts.first_order,
        customer: facts.customer.clone(),
        shipping_late: facts.shipping_late,
    }
}

/// The line's cancellations an event tells of: the cancelled ones, or the refunded ones.
fn taken_back(event: OrderEvent, line: &OrderLine) -> impl Iterator<Item = &Cancellation> {
    let kind = match event {
        OrderEvent::Cancelled => Some(CancellationKind::Cancelled),
        OrderEvent::Refunded => Some(CancellationKind::Refunded),
        _ => None,
    };
    line.cancellations
        .iter()
        .filter(move |c| Some(c.kind) == kind)
}

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `24/11/2026` (fr), `24 November 2026` (en), `2026-11-24` otherwise.
fn date(locale: &str, tz: &TimeZone, t: Timestamp) -> String {
    let z = t.to_zoned(tz.clone());
    match locale {
        "fr" => format!("{:02}/{:02}/{}", z.day(), z.month(), z.year()),
        "en" => format!(
            "{} {} {}",
            z.day(),
            MONTHS_EN[(z.month() - 1) as usize],
            z.year()
        ),
        _ => format!("{}-{:02}-{:02}", z.year(), z.month(), z.day()),
    }
}

/// `24/11/2026 à 18h00` (fr), `24 November 2026 at 18:00` (en).
fn date_time(locale: &str, tz: &TimeZone, t: Timestamp) -> String {
    let z = t.to_zoned(tz.clone());
    let day = date(locale, tz, t);
    match locale {
        "fr" => format!("{day} à {}h{:02}", z.hour(), z.minute()),
        "en" => format!("{day} at {:02}:{:02}", z.hour(), z.minute()),
        _ => format!("{day} {:02}:{:02}", z.hour(), z.minute()),
    }
}

/// `129,90 €` (fr), `€129.90` (en), `129.90 GBP` otherwise.
fn money(locale: &str, m: &Money) -> String {
    let amount = format!("{:.2}", m.amount);
    let symbol = match m.currency.as_str() {
        "EUR" => Some("€"),
        "GBP" => Some("£"),
        "USD" => Some("$"),
        _ => None,
    };
    match (locale, symbol) {
        ("fr", Some(s)) => format!("{} {s}", amount.replace('.', ",")),
        ("fr", None) => format!("{} {}", amount.replace('.', ","), m.currency),
        ("en", Some(s)) => format!("{s}{amount}"),
        _ => format!("{amount} {}", m.currency),
    }
}

/// An order with every optional fact present (`full`) or absent, so `check` exercises both
/// sides of each `{% if %}` in the templates.
pub fn sample_facts(event: OrderEvent, locale: &str, full: bool) -> Facts {
    let at = |s: &str| Timestamp::from_str(s).expect("a valid sample time");
    let eur = |cents: i64| Money::new(Decimal::new(cents, 2), "EUR");
    let state = MarketplaceState::new("WAITING_ACCEPTANCE", OrderStatus::AwaitingAcceptance);
    let line = |id: &str, sku: &str, title: &str, quantity: u32, cents: i64| OrderLine {
        id: id.to_owned(),
        sku: sku.to_owned(),
        title: full.then(|| title.to_owned()),
        quantity,
        price: eur(cents),
        state: state.clone(),
        cancellations: Vec::new(),
    };
    let mut order = Order {
        id: "SAMPLE-1042-A".to_owned(),
        reference: "SAMPLE-1042".to_owned(),
        state: state.clone(),
        created_at: at("2026-11-20T09:30:00Z"),
        updated_at: at("2026-11-20T09:30:00Z"),
        acceptance_deadline: full.then(|| at("2026-11-24T17:00:00Z")),
        shipping_deadline: None,
        customer: Customer {
            first_name: full.then(|| "Amélie".to_owned()),
            last_name: full.then(|| "Poulain-Léger".to_owned()),
            email: full.then(|| "amelie@example.org".to_owned()),
            locale: full.then(|| locale.to_owned()),
        },
        destination_hints: Default::default(),
        shipping_address: full.then(|| Address {
            first_name: Some("Amélie".to_owned()),
            last_name: Some("Poulain-Léger".to_owned()),
            company: None,
            street: vec!["12 rue des Abbesses".to_owned()],
            postal_code: Some("75018".to_owned()),
            city: Some("Paris".to_owned()),
            country: Country::parse("FR"),
            phone: None,
        }),
        lines: vec![
            line("1", "PERC-18V", "Perceuse-visseuse 18 V « Pro »", 1, 12990),
            line("2", "FORET-6", "Coffret de forets & embouts", 2, 1980),
        ],
        total: eur(16940),
        shipment: full.then(|| Shipment {
            tracking_number: Some("6A12345678901".to_owned()),
            carrier_code: Some("COLISSIMO".to_owned()),
            carrier_name: Some("Colissimo".to_owned()),
            tracking_url: Some(
                "https://www.laposte.fr/outils/suivre-vos-envois?code=6A12345678901&lang=fr"
                    .to_owned(),
            ),
        }),
        incident: None,
    };
    // The second line taken back, with a reason in the full sample.
    let kind = match event {
        OrderEvent::Refunded => CancellationKind::Refunded,
        _ => CancellationKind::Cancelled,
    };
    order.lines[1].cancellations.push(Cancellation {
        id: None,
        kind,
        quantity: 2,
        reason: full.then(|| "Rupture chez le transporteur".to_owned()),
        after_shipping: false,
    });
    Facts {
        channel: "sample".to_owned(),
        event,
        locale: locale.to_owned(),
        occurred_at: "2026-11-20T10:00:00Z".to_owned(),
        order,
        first_order: full,
        // A new customer in the full sample, a loyal one in the other: both segments render.
        customer: CustomerFacts {
            known: true,
            first_order: full,
            returning: !full,
            orders_last_hour: 1,
            orders_last_day: 1,
            orders_last_year: if full { 1 } else { 6 },
            past_refusals: 0,
            past_cancellations: 0,
        },
        reasons: if full {
            vec!["insufficient_stock".to_owned()]
        } else {
            Vec::new()
        },
        // Partial refusal in the full sample, so `accepted` shows both lists.
        refused_lines: if full && event != OrderEvent::Refused {
            vec!["2".to_owned()]
        } else {
            Vec::new()
        },
        deadline: full.then(|| at("2026-11-24T17:00:00Z")),
        expected_dispatch: full.then(|| at("2026-11-25T17:00:00Z")),
        shipping_late: false,
    }
}
