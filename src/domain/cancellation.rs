//! Who took back the units of a cancelled or refunded line (DESIGN section 3's `by`). Pure:
//! the pipeline gives what the store knows of the order.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelledBy {
    Customer,
    /// The marketplace's operator or customer service, after the order was accepted.
    Operator,
    /// The marketplace itself, for want of an answer before the acceptance deadline.
    Marketplace,
    /// The seller, through `vigie cancel` or the back office.
    Seller,
}

impl CancelledBy {
    pub const ALL: [Self; 4] = [
        Self::Customer,
        Self::Operator,
        Self::Marketplace,
        Self::Seller,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Operator => "operator",
            Self::Marketplace => "marketplace",
            Self::Seller => "seller",
        }
    }
}

/// What decides who cancelled, as the order stood when the marketplace reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Circumstances {
    /// The seller asked the marketplace to cancel these units.
    pub seller_asked: bool,
    /// The order still awaited acceptance: nobody had accepted it.
    pub awaiting_acceptance: bool,
    /// Its acceptance deadline had passed.
    pub past_deadline: bool,
}

/// The one place that decides `by`. Before acceptance, a cancellation is the customer's
/// doing unless the deadline passed (the marketplace cancels unanswered orders); after it,
/// marketplaces act on the customer's request through their operator, so it is theirs.
pub fn cancelled_by(c: Circumstances) -> CancelledBy {
    if c.seller_asked {
        CancelledBy::Seller
    } else if c.awaiting_acceptance && c.past_deadline {
        CancelledBy::Marketplace
    } else if c.awaiting_acceptance {
        CancelledBy::Customer
    } else {
        CancelledBy::Operator
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_cancelled_follows_the_order_life() {
        let at = |seller_asked, awaiting_acceptance, past_deadline| {
            cancelled_by(Circumstances {
                seller_asked,
                awaiting_acceptance,
                past_deadline,
            })
        };
        assert_eq!(at(false, true, false), CancelledBy::Customer);
        assert_eq!(at(false, true, true), CancelledBy::Marketplace);
        assert_eq!(at(false, false, false), CancelledBy::Operator);
        assert_eq!(at(false, false, true), CancelledBy::Operator);
        assert_eq!(at(true, false, false), CancelledBy::Seller);
        assert_eq!(at(true, true, true), CancelledBy::Seller);
    }
}
