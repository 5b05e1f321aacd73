//! What the customer and the operator do to an order after it is placed, the way Mirakl
//! shows it in OR11: cancellations (`cancelations[]`, lines `CANCELED`), refunds (`refunds[]`,
//! lines `REFUNDED`) and claims (lines `INCIDENT_OPEN`, `has_incident`).

use jiff::Timestamp;

use super::SandboxLine;
use super::state::{Refusal, State};

/// States whose line can still be cancelled: not shipped yet.
const CANCELLABLE: [&str; 4] = [
    "WAITING_ACCEPTANCE",
    "WAITING_DEBIT",
    "WAITING_DEBIT_PAYMENT",
    "SHIPPING",
];
/// States whose line can be refunded (Lengow: not once `CLOSED`).
const REFUNDABLE: [&str; 4] = ["SHIPPING", "SHIPPED", "TO_COLLECT", "RECEIVED"];

impl State {
    pub fn cancel(
        &mut self,
        order_id: &str,
        line_id: &str,
        quantity: u32,
        reason_code: &str,
    ) -> Result<(), Refusal> {
        self.change_line(order_id, line_id, |line| {
            if !CANCELLABLE.contains(&line.state.as_str()) {
                return Err(invalid_state(line));
            }
            let left = line.quantity - line.taken();
            let quantity = quantity.min(left);
            line.take_back(false, quantity, reason_code);
            if quantity == left {
                line.state = "CANCELED".into();
                line.reason_code = Some(reason_code.to_owned());
            }
            Ok(())
        })
    }

    pub fn refund(
        &mut self,
        order_id: &str,
        line_id: &str,
        reason_code: &str,
    ) -> Result<(), Refusal> {
        self.change_line(order_id, line_id, |line| {
            if !REFUNDABLE.contains(&line.state.as_str()) {
                return Err(invalid_state(line));
            }
            let quantity = line.quantity - line.taken();
            line.take_back(true, quantity, reason_code);
            line.state = "REFUNDED".into();
            Ok(())
        })
    }

    pub fn set_incident(
        &mut self,
        order_id: &str,
        line_id: &str,
        reason_code: Option<&str>,
    ) -> Result<(), Refusal> {
        self.change_line(order_id, line_id, |line| {
            match (reason_code, line.before_incident.take()) {
                (Some(reason), before) => {
                    line.before_incident = Some(before.unwrap_or_else(|| line.state.clone()));
                    line.state = "INCIDENT_OPEN".into();
                    line.reason_code = Some(reason.to_owned());
                }
                (None, Some(before)) => {
                    line.state = before;
                    line.reason_code = None;
                }
                (None, None) => return Err(invalid_state(line)),
            }
            Ok(())
        })
    }

    /// Applies `change` to one line, then the order follows its lines: `CANCELED` once every
    /// line is, and changed now.
    fn change_line(
        &mut self,
        order_id: &str,
        line_id: &str,
        change: impl FnOnce(&mut SandboxLine) -> Result<(), Refusal>,
    ) -> Result<(), Refusal> {
        let order = self.order_mut(order_id).ok_or_else(|| {
            Refusal::new(404, Some("ORDER_NOT_FOUND"), format!("no order {order_id}"))
        })?;
        let line = order
            .lines
            .iter_mut()
            .find(|l| l.id == line_id)
            .ok_or_else(|| {
                Refusal::new(
                    404,
                    Some("ORDER_LINE_NOT_FOUND"),
                    format!("no line {line_id}"),
                )
            })?;
        change(line)?;
        if order.lines.iter().all(|l| l.state == "CANCELED") {
            order.state = "CANCELED".into();
        }
        order.updated_at = Timestamp::now();
        Ok(())
    }
}

fn invalid_state(line: &SandboxLine) -> Refusal {
    Refusal::new(
        400,
        Some("ORDER_INVALID_STATE"),
        format!("Order line {} is in state {}", line.id, line.state),
    )
}
