//! One handler per page: read what the page shows in one store read, hand it to its template.
//! Forms post back here, check their CSRF token, act through the same functions as the
//! command line, and send the person back to the page with what happened.

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use minijinja::context;
use serde::{Deserialize, Serialize};
use vigie_connector::Order;

use super::render::v;
use super::{WebState, auth, chart, render};
use crate::pipeline::review;
use crate::store::{self, StoreError, alerts, history, kpis, order_facts, orders, status, stock};

/// The page's own message after a form (`?done=...`): a fixed word, never text from a URL.
#[derive(Deserialize, Default)]
pub struct Done {
    done: Option<String>,
}

fn done_message(done: &Done) -> Option<&'static str> {
    match done.done.as_deref()? {
        "accepted" => Some("Accepted: the daemon tells the marketplace at its next cycle."),
        "refused" => Some("Refused: the daemon tells the marketplace at its next cycle."),
        "acknowledged" => Some("Acknowledged: no more reminders for this alert."),
        "shipped" => {
            Some("Parcel recorded: the daemon confirms it to the marketplace at its next cycle.")
        }
        _ => None,
    }
}

/// A channel's line on the dashboard: its health and KPIs (from `status`) and its chart.
#[derive(Serialize)]
struct ChannelCard {
    status: status::ChannelStatus,
    accept_chart: String,
}

pub async fn dashboard(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
) -> Response {
    let config = state.config();
    let now = Timestamp::now();
    let read = state
        .store
        .read(move |conn| {
            let mut report = status::report(conn, &config, now)?;
            let mut cards = Vec::new();
            for channel in std::mem::take(&mut report.channels) {
                let days = kpis::daily(conn, &channel.name, now, 7)?;
                let points: Vec<_> = days
                    .into_iter()
                    .map(|d| (short_day(&d.until), d.median_seconds_to_accept))
                    .collect();
                cards.push(ChannelCard {
                    status: channel,
                    accept_chart: chart::bars(
                        "Median time to accept, each of the last 7 days",
                        &points,
                        chart::Unit::Duration,
                    ),
                });
            }
            let backlog: Vec<_> = (0..7)
                .rev()
                .map(|ago| {
                    let at = now - jiff::SignedDuration::from_hours(24 * ago);
                    Ok((
                        short_day(&store::time_text(at)),
                        Some(kpis::backlog_at(conn, at)? as f64),
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
            let backlog_chart = chart::bars(
                "Orders waiting for a decision, at this time each of the last 7 days",
                &backlog,
                chart::Unit::Count,
            );
            let open = alerts::open_for_people(conn)?;
            Ok((report, cards, backlog_chart, open))
        })
        .await;
    let (report, cards, backlog_chart, open) = match read {
        Ok(read) => read,
        Err(e) => return render::failure(&e.to_string()),
    };
    state.pages.render(
        "dashboard.html",
        context! { session => v(&session), report => v(&report), cards => v(&cards), backlog_chart => v(&backlog_chart), open => v(&open), page => "dashboard" },
    )
}

/// `2026-11-30T21:05:00Z` -> `11-30`, a chart's label.
fn short_day(time: &str) -> String {
    time.get(5..10).unwrap_or(time).to_owned()
}

/// One order held for a person, with what they need to decide it.
#[derive(Serialize)]
struct Held {
    order: orders::OrderView,
    customer: String,
    address: Vec<String>,
    deadline_at: Option<String>,
    due_in: Option<String>,
    overdue: bool,
    /// `(sku, available)` for each line's SKU.
    stock: Vec<(String, i64)>,
    #[serde(skip)]
    deadline: Option<Timestamp>,
}

pub async fn review_queue(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
) -> Response {
    let buffer = state.config().inventory.safety_buffer;
    let now = Timestamp::now();
    let read = state
        .store
        .read(move |conn| {
            let filter = orders::OrderFilter {
                status: Some("flagged".into()),
                ..Default::default()
            };
            orders::list(conn, &filter)?
                .into_iter()
                .map(|view| held(conn, view, buffer, now))
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await;
    let mut queue = match read {
        Ok(queue) => queue,
        Err(e) => return render::failure(&e.to_string()),
    };
    // Most urgent first; an order with no known deadline after those that have one.
    queue.sort_by_key(|h| (h.deadline.is_none(), h.deadline));
    state.pages.render(
        "review.html",
        context! { session => v(&session), queue => v(&queue), page => "review" },
    )
}

fn held(
    conn: &rusqlite::Connection,
    order: orders::OrderView,
    buffer: u32,
    now: Timestamp,
) -> Result<Held, StoreError> {
    let (pk, payload) = order_facts::find(conn, &order.channel, &order.order_id)?
        .ok_or_else(|| StoreError::Data(format!("order {} vanished", order.order_id)))?;
    let deadline = order_facts::deadline(conn, pk)?;
    let (due_in, overdue) = match deadline.map(|d| render::countdown(d, now)) {
        Some((text, overdue)) => (Some(text), overdue),
        None => (None, false),
    };
    let mut stock = Vec::new();
    for line in &order.lines {
        if !stock.iter().any(|(sku, _)| *sku == line.sku) {
            stock.push((line.sku.clone(), stock::available(conn, &line.sku, buffer)?));
        }
    }
    Ok(Held {
        customer: customer_name(&payload),
        address: address_lines(&payload),
        deadline_at: deadline.map(store::time_text),
        due_in,
        overdue,
        stock,
        deadline,
        order,
    })
}

fn customer_name(order: &Order) -> String {
    let c = &order.customer;
    let name = [c.first_name.as_deref(), c.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() { "—".into() } else { name }
}

/// The shipping address as printed on a parcel; empty while the marketplace hides it.
fn address_lines(order: &Order) -> Vec<String> {
    let Some(a) = &order.shipping_address else {
        return Vec::new();
    };
    let mut lines: Vec<String> = a.street.clone();
    let town = [a.postal_code.as_deref(), a.city.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    lines.extend([
        town,
        a.country
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
    ]);
    lines.retain(|l| !l.is_empty());
    lines
}

pub async fn order(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
    Path((channel, order_id)): Path<(String, String)>,
    Query(done): Query<Done>,
) -> Response {
    let buffer = state.config().inventory.safety_buffer;
    let now = Timestamp::now();
    let read = state
        .store
        .read(move |conn| {
            let filter = orders::OrderFilter {
                channel: Some(channel.clone()),
                order_id: Some(order_id.clone()),
                ..Default::default()
            };
            let Some(view) = orders::list(conn, &filter)?.pop() else {
                return Ok(None);
            };
            let held = held(conn, view, buffer, now)?;
            let (pk, _) = order_facts::find(conn, &channel, &order_id)?
                .ok_or_else(|| StoreError::Data(format!("order {order_id} vanished")))?;
            let story = history::of_order(conn, pk, &channel, &order_id)?;
            Ok(Some((held, story)))
        })
        .await;
    match read {
        Ok(Some((held, story))) => state.pages.render(
            "order.html",
            context! { session => v(&session), held => v(&held), story => v(&story), awaiting_review => held.order.status == "flagged", can_ship => can_ship(&held.order), done => v(&done_message(&done)), page => "order" },
        ),
        Ok(None) => (StatusCode::NOT_FOUND, "no such order\n").into_response(),
        Err(e) => render::failure(&e.to_string()),
    }
}

/// Accepted (or accepted by vigie, before the marketplace shows it) and not all shipped.
fn can_ship(order: &orders::OrderView) -> bool {
    let accepted = order.status == "accepted"
        || (order.status == "awaiting_acceptance" && order.decision == Some("accept"));
    let parcels: u32 = order
        .shipments
        .iter()
        .filter(|p| p.state != crate::store::shipments::Confirmation::Rejected)
        .flat_map(|p| &p.lines)
        .map(|l| l.quantity)
        .sum();
    let owed: u32 = order
        .lines
        .iter()
        .filter(|l| l.accepted != Some(false))
        .map(|l| l.quantity)
        .sum();
    accepted && parcels < owed
}

#[derive(Deserialize)]
pub struct ReviewForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    reason: String,
}

pub async fn review(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
    Path((channel, order_id)): Path<(String, String)>,
    Form(form): Form<ReviewForm>,
) -> Response {
    if !auth::same_secret(&form.csrf, &session.csrf) {
        return forbidden();
    }
    let accept = match form.decision.as_str() {
        "accept" => true,
        "refuse" => false,
        _ => return (StatusCode::BAD_REQUEST, "decision: accept or refuse\n").into_response(),
    };
    let buffer = state.config().inventory.safety_buffer;
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    let (page_channel, page_order) = (channel.clone(), order_id.clone());
    let result = state
        .store
        .call(move |conn| {
            let verdict = review::Verdict {
                accept,
                note: reason.as_deref(),
                actor: &session.who,
            };
            store::commit_if_ok(conn, |tx| {
                review::decide(tx, &channel, &order_id, verdict, buffer)
            })
        })
        .await;
    match result {
        Ok(Ok(())) => {
            let done = if accept { "accepted" } else { "refused" };
            Redirect::to(&format!(
                "{}?done={done}",
                render::order_path(&format!("{page_channel}:{page_order}"))
            ))
            .into_response()
        }
        Ok(Err(refused)) => (StatusCode::CONFLICT, format!("{refused}\n")).into_response(),
        Err(e) => render::failure(&e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct ShipForm {
    csrf: String,
    carrier: String,
    tracking_number: String,
    #[serde(default)]
    tracking_url: String,
}

/// A parcel for every unit still to ship, from the order's page.
pub async fn ship(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
    Path((channel, order_id)): Path<(String, String)>,
    Form(form): Form<ShipForm>,
) -> Response {
    if !auth::same_secret(&form.csrf, &session.csrf) {
        return forbidden();
    }
    let request = crate::pipeline::parcel::ParcelRequest {
        order_id: order_id.clone(),
        carrier: form.carrier,
        tracking_number: form.tracking_number,
        tracking_url: Some(form.tracking_url).filter(|u| !u.trim().is_empty()),
        lines: Vec::new(),
    };
    let back = render::order_path(&format!("{channel}:{order_id}"));
    let web = state.clone();
    let result = state
        .store
        .call(move |conn| {
            match store::commit_if_ok(conn, |tx| {
                super::ship::record(&web, tx, &channel, &request, &session.who, "web")
            })? {
                Ok(_) => Ok(Ok(())),
                Err(super::ship::ShipError::Parcel(
                    crate::pipeline::parcel::ParcelError::Store(e),
                )) => Err(e),
                Err(e) => Ok(Err(e)),
            }
        })
        .await;
    match result {
        Ok(Ok(())) => Redirect::to(&format!("{back}?done=shipped")).into_response(),
        Ok(Err(refused)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, format!("{refused}\n")).into_response()
        }
        Err(e) => render::failure(&e.to_string()),
    }
}

#[derive(Deserialize, Default)]
pub struct StockSearch {
    #[serde(default)]
    sku: String,
}

pub async fn stock(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
    Query(search): Query<StockSearch>,
) -> Response {
    let sku = search.sku.trim().to_owned();
    let buffer = state.config().inventory.safety_buffer;
    let wanted = sku.clone();
    let read = state
        .store
        .read(move |conn| {
            let mut found = Vec::new();
            if !wanted.is_empty() {
                stock::show(conn, Some(&wanted), buffer, |view| {
                    found.push(view);
                    Ok::<_, StoreError>(())
                })?;
            }
            Ok(found)
        })
        .await;
    match read {
        Ok(found) => state.pages.render(
            "stock.html",
            context! { session => v(&session), sku => v(&sku), found => v(&found), page => "stock" },
        ),
        Err(e) => render::failure(&e.to_string()),
    }
}

pub async fn alerts(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
    Query(done): Query<Done>,
) -> Response {
    match state.store.read(alerts::open_for_people).await {
        Ok(open) => state.pages.render(
            "alerts.html",
            context! { session => v(&session), open => v(&open), done => v(&done_message(&done)), page => "alerts" },
        ),
        Err(e) => render::failure(&e.to_string()),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

pub async fn acknowledge(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !auth::same_secret(&form.csrf, &session.csrf) {
        return forbidden();
    }
    let now = store::now_text();
    let who = session.who.clone();
    match state
        .store
        .call(move |conn| alerts::acknowledge(conn, id, &who, &now))
        .await
    {
        Ok(_) => Redirect::to("/alerts?done=acknowledged").into_response(),
        Err(e) => render::failure(&e.to_string()),
    }
}

pub async fn login_form(State(state): State<WebState>) -> Response {
    state
        .pages
        .render("login.html", context! { failed => false, page => "login" })
}

#[derive(Deserialize)]
pub struct Login {
    #[serde(default)]
    name: String,
    password: String,
}

pub async fn login(State(state): State<WebState>, Form(form): Form<Login>) -> Response {
    if !state.logins.allow() {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60")],
            "too many login attempts: wait a minute\n",
        )
            .into_response();
    }
    let config = state.config();
    let matches = config
        .web
        .password_hash
        .as_ref()
        .is_some_and(|hash| auth::password_matches(&form.password, hash));
    if !matches {
        tracing::warn!("web: a login failed");
        return (
            StatusCode::UNAUTHORIZED,
            state
                .pages
                .render("login.html", context! { failed => true, page => "login" }),
        )
            .into_response();
    }
    let who = match form.name.trim() {
        "" => "on-call",
        name => name,
    };
    let who: String = who.chars().take(60).collect();
    let (token, _) = match state.sessions.open(&who, Timestamp::now()) {
        Ok(opened) => opened,
        Err(e) => return render::failure(&format!("cannot open a session: {e}")),
    };
    tracing::info!(who, "web: logged in");
    let secure = config
        .web
        .public_url
        .as_ref()
        .is_some_and(|u| u.scheme() == "https");
    (
        [(header::SET_COOKIE, auth::session_cookie(&token, secure))],
        Redirect::to("/"),
    )
        .into_response()
}

pub async fn logout(
    State(state): State<WebState>,
    Extension(session): Extension<auth::Session>,
    headers: HeaderMap,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !auth::same_secret(&form.csrf, &session.csrf) {
        return forbidden();
    }
    state.sessions.close(&headers);
    (
        [(header::SET_COOKIE, auth::expired_cookie())],
        Redirect::to("/login"),
    )
        .into_response()
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "this form is out of date or came from another site: reload the page and try again\n",
    )
        .into_response()
}
