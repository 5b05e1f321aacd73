//! What vigie knows of an order's customer, across every channel, as it stood when the order
//! was judged: the same answer live, in `rules test` and in `rules replay`.
//!
//! The customer is recognised by a key the store derives from the order: the first and last
//! names when the marketplace gives a last name, else the e-mail address (the store's
//! migration V10 says why); an order without either has an unknown customer.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerFacts {
    /// vigie could recognise the customer (by name, else by e-mail address).
    pub known: bool,
    /// A known customer with no earlier order in vigie.
    pub first_order: bool,
    /// A known customer who ordered before.
    pub returning: bool,
    /// The customer's orders created within the hour, day and year up to this one, this one
    /// included, on every channel.
    pub orders_last_hour: u32,
    pub orders_last_day: u32,
    pub orders_last_year: u32,
    /// The customer's earlier orders refused, or cancelled, before this one was judged.
    pub past_refusals: u32,
    pub past_cancellations: u32,
}

/// One order of a customer, as the history reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastOrder {
    pub order_pk: i64,
    pub created_at: Timestamp,
    pub first_seen_at: Timestamp,
    /// When vigie first saw it refused, or cancelled.
    pub refused_at: Option<Timestamp>,
    pub cancelled_at: Option<Timestamp>,
}

const HOUR: SignedDuration = SignedDuration::from_hours(1);
const DAY: SignedDuration = SignedDuration::from_hours(24);
const YEAR: SignedDuration = SignedDuration::from_hours(24 * 365);

/// The order being judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judging {
    pub order_pk: i64,
    pub created_at: Timestamp,
    pub judged_at: Timestamp,
}

/// The customer facts of the order being judged, among `orders` (the customer's orders vigie
/// stores now, this one among them or not); `None` for a customer vigie cannot recognise.
pub fn history(this: Judging, orders: Option<&[PastOrder]>) -> CustomerFacts {
    let Some(orders) = orders else {
        return CustomerFacts::default();
    };
    let judged_at = this.judged_at;
    // Orders stored before this one, or seen in an earlier cycle than its judgement.
    let seen_then = |o: &&PastOrder| {
        o.order_pk != this.order_pk && (o.order_pk < this.order_pk || o.first_seen_at < judged_at)
    };
    // Earlier: created before it, or stored before it (marketplaces' clocks differ, and some
    // give creation times to the second only).
    let earlier: Vec<&PastOrder> = orders
        .iter()
        .filter(seen_then)
        .filter(|o| o.order_pk < this.order_pk || o.created_at < this.created_at)
        .collect();
    let within = |span: SignedDuration| {
        let since = this
            .created_at
            .saturating_sub(span)
            .unwrap_or(Timestamp::MIN);
        1 + earlier.iter().filter(|o| o.created_at >= since).count() as u32
    };
    let before_judgement = |at: Option<Timestamp>| at.is_some_and(|at| at < judged_at);
    CustomerFacts {
        known: true,
        first_order: earlier.is_empty(),
        returning: !earlier.is_empty(),
        orders_last_hour: within(HOUR),
        orders_last_day: within(DAY),
        orders_last_year: within(YEAR),
        past_refusals: orders
            .iter()
            .filter(seen_then)
            .filter(|o| before_judgement(o.refused_at))
            .count() as u32,
        past_cancellations: orders
            .iter()
            .filter(seen_then)
            .filter(|o| before_judgement(o.cancelled_at))
            .count() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH
            .checked_add(SignedDuration::from_hours(24 * 400))
            .unwrap()
            .checked_add(SignedDuration::from_mins(minutes))
            .unwrap()
    }

    fn placed(order_pk: i64, created: i64) -> PastOrder {
        PastOrder {
            order_pk,
            created_at: at(created),
            first_seen_at: at(created + 1),
            refused_at: None,
            cancelled_at: None,
        }
    }

    fn judging(order: &PastOrder, judged: i64) -> Judging {
        Judging {
            order_pk: order.order_pk,
            created_at: order.created_at,
            judged_at: at(judged),
        }
    }

    #[test]
    fn a_first_order_then_a_returning_customer() {
        let first = placed(1, 0);
        let facts = history(judging(&first, 1), Some(std::slice::from_ref(&first)));
        assert!(facts.first_order && !facts.returning);
        assert_eq!(facts.orders_last_hour, 1);

        let mut refused = placed(1, 0);
        refused.refused_at = Some(at(5));
        let orders = [refused, placed(2, 30), placed(3, 50), placed(4, 60 * 30)];
        let third = history(judging(&orders[2], 51), Some(&orders));
        assert!(third.returning && !third.first_order);
        assert_eq!(
            (
                third.orders_last_hour,
                third.orders_last_day,
                third.past_refusals
            ),
            (3, 3, 1)
        );
        let later = history(judging(&orders[3], 60 * 30 + 1), Some(&orders));
        assert_eq!(
            (
                later.orders_last_hour,
                later.orders_last_day,
                later.orders_last_year
            ),
            (1, 1, 4)
        );
    }

    #[test]
    fn what_came_after_the_judgement_is_not_history() {
        let mut first = placed(1, 0);
        first.cancelled_at = Some(at(10));
        let orders = [first, placed(2, 5)];
        // Judged at minute 6: the cancellation of minute 10 had not happened yet.
        let second = history(judging(&orders[1], 6), Some(&orders));
        assert_eq!(second.past_cancellations, 0);
        // An order stored after this one and first seen in the same cycle is not history.
        let mut same_cycle = orders.clone();
        same_cycle[0].order_pk = 3;
        same_cycle[0].first_seen_at = at(6);
        assert!(history(judging(&same_cycle[1], 6), Some(&same_cycle)).first_order);
    }

    #[test]
    fn an_unknown_customer_has_no_history() {
        let facts = history(judging(&placed(1, 0), 1), None);
        assert_eq!(facts, CustomerFacts::default());
        assert!(!facts.first_order);
    }
}
