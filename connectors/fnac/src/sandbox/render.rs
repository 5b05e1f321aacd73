//! Writing the sandbox's responses the way Fnac does: `{service}_response` roots with a
//! `status`, strings in CDATA, empty dates as empty elements, alpha-3 countries.

use quick_xml::escape::escape;

use crate::xml::write::{NAMESPACE, date_time};

use super::state::{Fault, Incident, Offer, OfferResult, Order, OrderResult};

/// A whole response document.
pub fn response(service: &str, status: &str, content: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<{service}_response status=\"{status}\" xmlns=\"{NAMESPACE}\">{content}</{service}_response>"
    )
}

pub fn error(severity: &str, code: &str, message: &str) -> String {
    format!(
        "<error severity=\"{severity}\" code=\"{code}\">{}</error>",
        cdata(message)
    )
}

fn fault(fault: &Option<Fault>) -> String {
    fault
        .as_ref()
        .map(|(severity, code, message)| error(severity, code, message))
        .unwrap_or_default()
}

pub fn text(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", escape(value))
}

/// Fnac wraps strings in CDATA; `]]>` inside is split across two sections.
fn cdata(value: &str) -> String {
    format!("<![CDATA[{}]]>", value.replace("]]>", "]]]]><![CDATA[>"))
}

fn string(name: &str, value: &str) -> String {
    format!("<{name}>{}</{name}>", cdata(value))
}

pub fn paging(page: usize, total_paging: usize, per_page: usize, total: usize) -> String {
    format!(
        "<page>{page}</page><total_paging>{total_paging}</total_paging><nb_total_per_page>{per_page}</nb_total_per_page><nb_total_result>{total}</nb_total_result>"
    )
}

/// `_order_query_response` is a sequence: its elements stay in the XSD's order.
pub fn order(order: &Order, shop_id: &str) -> String {
    let created_at = if order.malformed {
        "the day before yesterday".to_owned()
    } else {
        date_time(order.created_at)
    };
    let mut xml = String::from("<order>");
    xml += &text("shop_id", shop_id);
    xml += &text("client_id", &order.client_id);
    xml += &string("client_firstname", &order.first_name);
    xml += &string("client_lastname", &order.last_name);
    if let Some(email) = &order.email {
        xml += &string("client_email", email);
    }
    xml += &text("order_id", &order.id);
    xml += &text("client_culture", "fr_FR");
    xml += &text("state", order.state());
    xml += &text("created_at", &created_at);
    xml += "<shipping_address>";
    xml += &string("firstname", &order.first_name);
    xml += &string("lastname", &order.last_name);
    xml += &string("address1", "1 rue de la Paix");
    xml += "<address2></address2>";
    xml += &string("zipcode", "75002");
    xml += &string("city", "Paris");
    xml += &text("country", &order.country);
    xml += "</shipping_address>";
    for line in &order.lines {
        // xs:all: real responses start with product_name.
        xml += "<order_detail>";
        xml += &string("product_name", &format!("Produit {}", line.sku));
        xml += &text("order_detail_id", &line.id.to_string());
        xml += &text("state", line.state);
        xml += &text("product_fnac_id", &line.product_fnac_id);
        xml += &text("offer_fnac_id", &line.offer_fnac_id);
        xml += &string("offer_seller_id", &line.sku);
        xml += &text("price", &line.unit_price.to_string());
        xml += &text("fees", "0.00");
        xml += &text("product_state", "11");
        xml += &text("quantity", &line.quantity.to_string());
        xml += &text("created_at", &created_at);
        xml += "<received_at></received_at>";
        xml += &string(
            "tracking_number",
            line.tracking_number.as_deref().unwrap_or_default(),
        );
        xml += "</order_detail>";
    }
    xml + "</order>"
}

pub fn order_result(result: &OrderResult) -> String {
    let mut xml = String::from("<order>");
    xml += &text("status", result.status);
    xml += &text("order_id", &result.order_id);
    if let Some(state) = result.state {
        xml += &text("state", state);
    }
    xml += &fault(&result.error);
    for line in &result.lines {
        xml += "<order_detail>";
        xml += &text("order_detail_id", &line.id);
        xml += &text("status", line.status);
        if let Some(state) = line.state {
            xml += &text("state", state);
        }
        xml += &fault(&line.error);
        xml += "</order_detail>";
    }
    xml + "</order>"
}

pub fn offer_result(result: &OfferResult) -> String {
    let mut xml = format!("<offer status=\"{}\">", result.status);
    if let Some(id) = &result.product_fnac_id {
        xml += &text("product_fnac_id", id);
    }
    if let Some(id) = &result.offer_fnac_id {
        xml += &text("offer_fnac_id", id);
    }
    xml += &string("offer_seller_id", &result.sku);
    xml += &fault(&result.error);
    xml + "</offer>"
}

/// `_offer_query_response` (xs:all) with its required elements.
pub fn offer(sku: &str, offer: &Offer) -> String {
    let mut xml = String::from("<offer>");
    xml += &string("product_name", &format!("Produit {sku}"));
    xml += &text("product_fnac_id", &offer.product_fnac_id);
    xml += &text("offer_fnac_id", &offer.offer_fnac_id);
    xml += &string("offer_seller_id", sku);
    xml += &text("price", &offer.price.to_string());
    xml += &text("fee_excluding_taxes", "0.00");
    xml += &text("fee_including_all_taxes", "0.00");
    xml += &text("product_state", "11");
    xml += &text("quantity", &offer.quantity.to_string());
    xml += "<description></description><internal_comment></internal_comment>";
    xml + "</offer>"
}

/// `_incident_query_response`: a header and the line's claim, as `IncidentsQueryService.xsd`
/// lists them.
pub fn incident(incident: &Incident) -> String {
    let status = if incident.opened { "OPENED" } else { "CLOSED" };
    let (created, updated) = (
        date_time(incident.created_at),
        date_time(incident.updated_at),
    );
    let mut xml = format!("<incident id=\"{}\"><header>", incident.id);
    xml += &text("status", status);
    xml += &text(
        "waiting_for_seller_answer",
        if incident.opened { "TRUE" } else { "FALSE" },
    );
    xml += &string("message", &incident.message);
    xml += &text("opened_by", "client");
    if !incident.opened {
        xml += &text("closed_by", "call-center");
        xml += &text("closed_status", "3");
    }
    xml += &text("created_at", &created);
    xml += &text("updated_at", &updated);
    if !incident.opened {
        xml += &text("closed_at", &updated);
    }
    xml += &text("order_id", &incident.order_id);
    xml += "</header><order_details_incident><order_detail_incident>";
    xml += &text("order_detail_id", &incident.line_id.to_string());
    xml += &text("type", incident.kind);
    xml += &text("status", status);
    xml += &text("created_at", &created);
    xml += &text("updated_at", &updated);
    xml + "</order_detail_incident></order_details_incident></incident>"
}
