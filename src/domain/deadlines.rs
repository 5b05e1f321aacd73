//! Acceptance deadlines: calendar durations, or working days in the seller's time zone that
//! skip weekends and French public holidays.
//!
//! Working days, exactly:
//! - the order's local date and time of day are taken in the seller's time zone;
//! - an order placed on a non-working day (Saturday, Sunday, holiday) is treated as placed on
//!   the next working day at the same time of day (Saturday 10:00 + 2 → Wednesday 10:00);
//! - each working day then moves the date to the next working day, keeping the time of day
//!   (Friday 18:00 + 2 → Tuesday 18:00);
//! - the local time is kept across DST changes; a time that does not exist on the deadline day
//!   (skipped by spring-forward) moves forward by the gap, and a repeated time (fall-back) takes
//!   the earlier instant (jiff's "compatible" rule);
//! - dates past the year 9999 saturate at [`Timestamp::MAX`].

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};

use std::collections::BTreeSet;

use crate::config::{Deadline, DeadlineAction};
use crate::domain::rules::{LineStock, Reason, Verdict};

/// When an order created at `created` must be accepted under `rule`.
pub fn deadline(created: Timestamp, rule: Deadline, tz: &TimeZone) -> Timestamp {
    match rule {
        Deadline::Calendar(duration) => created.checked_add(duration).unwrap_or(Timestamp::MAX),
        Deadline::WorkingDays(days) => add_working_days(created, days, tz),
    }
}

fn add_working_days(created: Timestamp, days: u32, tz: &TimeZone) -> Timestamp {
    let local = created.to_zoned(tz.clone());
    let time = local.time();
    let mut date = local.date();
    let Some(start) = working_day_from(date) else {
        return Timestamp::MAX;
    };
    date = start;
    for _ in 0..days {
        let next = date.tomorrow().ok().and_then(working_day_from);
        let Some(next) = next else {
            return Timestamp::MAX;
        };
        date = next;
    }
    date.to_datetime(time)
        .to_zoned(tz.clone())
        .map_or(Timestamp::MAX, |zoned| zoned.timestamp())
}

/// `date` itself if it is a working day, else the next one (None past the year 9999).
fn working_day_from(mut date: Date) -> Option<Date> {
    while !is_working_day(date) {
        date = date.tomorrow().ok()?;
    }
    Some(date)
}

/// Monday to Friday, and not a French public holiday.
pub fn is_working_day(date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
        && !french_holidays(date.year()).contains(&date)
}

/// France's eleven public holidays of `year` (metropolitan, without Alsace-Moselle's two
/// extra days), sorted; Ascension can fall on 1 or 8 May, so there may be ten distinct dates.
pub fn french_holidays(year: i16) -> Vec<Date> {
    const FIXED: [(i8, i8); 8] = [
        (1, 1),
        (5, 1),
        (5, 8),
        (7, 14),
        (8, 15),
        (11, 1),
        (11, 11),
        (12, 25),
    ];
    // Easter Monday, Ascension Thursday, Whit Monday.
    const AFTER_EASTER: [i64; 3] = [1, 39, 50];
    let movable = easter_sunday(year).into_iter().flat_map(|easter| {
        AFTER_EASTER
            .into_iter()
            .filter_map(move |days| easter.checked_add(Span::new().days(days)).ok())
    });
    let fixed = FIXED
        .into_iter()
        .filter_map(|(month, day)| Date::new(year, month, day).ok());
    let mut days: Vec<Date> = fixed.chain(movable).collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Easter Sunday by the Gregorian computus (the anonymous algorithm, Meeus/Jones/Butcher);
/// `None` outside the years a date can have (-9999 to 9999).
pub fn easter_sunday(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y.rem_euclid(19);
    let b = y.div_euclid(100);
    let c = y.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    // h, l and m are bounded, so n lies in 100..=149: March 8 to April 26 at the extremes.
    let n = h + l - 7 * m + 114;
    let (month, day) = (n / 31, n % 31 + 1);
    Date::new(year, month as i8, day as i8).ok()
}

/// How much of the window from `created` to `deadline` has passed at `now`: 0 at creation,
/// 0.5 halfway, 1 at the deadline, above 1 once it is missed. Never negative; an empty or
/// inverted window counts as fully elapsed.
pub fn elapsed_fraction(created: Timestamp, deadline: Timestamp, now: Timestamp) -> f64 {
    let window = deadline.duration_since(created);
    if window <= SignedDuration::ZERO {
        return 1.0;
    }
    let elapsed = now.duration_since(created).max(SignedDuration::ZERO);
    elapsed.as_secs_f64() / window.as_secs_f64()
}

/// What `[rules] on_deadline` makes of an order still undecided late in its window, given what
/// the ledger could reserve for its lines now; `None` leaves it to a human. Accepting never
/// oversells: lines without units are refused, or the whole order when partial acceptance is off.
pub fn verdict_at_deadline(
    action: DeadlineAction,
    stock: &[LineStock],
    partial_allowed: bool,
) -> Option<Verdict> {
    let short: Vec<String> = stock
        .iter()
        .filter(|l| !l.reserved)
        .map(|l| l.line_id.clone())
        .collect();
    let refuse = |reasons: &[Reason]| Some(Verdict::Refuse(BTreeSet::from_iter(reasons.to_vec())));
    match action {
        DeadlineAction::Nothing => None,
        DeadlineAction::Refuse => refuse(&[Reason::Deadline]),
        DeadlineAction::Accept if short.is_empty() => Some(Verdict::Accept),
        DeadlineAction::Accept if partial_allowed && short.len() < stock.len() => {
            Some(Verdict::Partial { refused: short })
        }
        DeadlineAction::Accept => refuse(&[Reason::Deadline, Reason::InsufficientStock]),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jiff::civil::date;

    use super::*;

    fn paris() -> TimeZone {
        TimeZone::get("Europe/Paris").unwrap()
    }

    /// Local Paris wall time → instant.
    fn at(y: i16, m: i8, d: i8, h: i8, min: i8) -> Timestamp {
        date(y, m, d)
            .at(h, min, 0, 0)
            .to_zoned(paris())
            .unwrap()
            .timestamp()
    }

    fn working(created: Timestamp, days: u32) -> Timestamp {
        deadline(created, Deadline::WorkingDays(days), &paris())
    }

    #[test]
    fn friday_evening_plus_two_working_days_is_tuesday_evening() {
        // 2026-03-06 is a Friday.
        assert_eq!(date(2026, 3, 6).weekday(), Weekday::Friday);
        assert_eq!(working(at(2026, 3, 6, 18, 0), 2), at(2026, 3, 10, 18, 0));
        assert_eq!(working(at(2026, 3, 6, 18, 0), 1), at(2026, 3, 9, 18, 0));
    }

    #[test]
    fn orders_on_non_working_days_count_from_the_next_working_day() {
        // Saturday 7 March 2026, 10:00 → treated as Monday 10:00 → Wednesday 10:00.
        assert_eq!(working(at(2026, 3, 7, 10, 0), 2), at(2026, 3, 11, 10, 0));
        // Sunday late evening: same.
        assert_eq!(working(at(2026, 3, 8, 23, 30), 2), at(2026, 3, 11, 23, 30));
        // Bastille Day 2026 is a Tuesday: counts from Wednesday 15.
        assert_eq!(working(at(2026, 7, 14, 9, 0), 1), at(2026, 7, 16, 9, 0));
    }

    #[test]
    fn public_holidays_are_skipped() {
        // Monday 13 July 2026 + 1 → Wednesday 15 (14 July is a Tuesday).
        assert_eq!(working(at(2026, 7, 13, 12, 0), 1), at(2026, 7, 15, 12, 0));
        // Thursday 14 August 2025 + 1 → Monday 18, skipping Friday the 15th.
        assert_eq!(working(at(2025, 8, 14, 12, 0), 1), at(2025, 8, 18, 12, 0));
        // Thursday 31 October 2024 + 1 → Monday 4 November, skipping Friday the 1st.
        assert_eq!(working(at(2024, 10, 31, 12, 0), 1), at(2024, 11, 4, 12, 0));
        // Easter Monday 2026 is 6 April: Friday 3 April + 1 → Tuesday 7 April.
        assert_eq!(working(at(2026, 4, 3, 18, 0), 1), at(2026, 4, 7, 18, 0));
        // Easter Monday 2027 is 29 March: Friday 26 March + 2 → Wednesday 31 March.
        assert_eq!(working(at(2027, 3, 26, 18, 0), 2), at(2027, 3, 31, 18, 0));
        // Ascension 2026 is Thursday 14 May: Wednesday 13 + 1 → Friday 15.
        assert_eq!(working(at(2026, 5, 13, 8, 0), 1), at(2026, 5, 15, 8, 0));
        // Christmas and New Year 2025/2026 are Thursdays: 24 Dec + 2 → Friday 26 → Monday 29.
        assert_eq!(working(at(2025, 12, 24, 8, 0), 2), at(2025, 12, 29, 8, 0));
    }

    #[test]
    fn working_days_keep_local_time_across_dst_changes() {
        // Summer time starts Sunday 29 March 2026: Friday 27 18:00 CET + 2 → Tuesday 31 18:00
        // CEST, four calendar days but 95 hours of real time.
        let created = at(2026, 3, 27, 18, 0);
        let due = working(created, 2);
        assert_eq!(due, at(2026, 3, 31, 18, 0));
        assert_eq!(due.duration_since(created), SignedDuration::from_hours(95));
        // Winter time starts Sunday 25 October 2026: Friday 23 09:00 + 1 → Monday 26 09:00.
        let created = at(2026, 10, 23, 9, 0);
        let due = working(created, 1);
        assert_eq!(due, at(2026, 10, 26, 9, 0));
        assert_eq!(due.duration_since(created), SignedDuration::from_hours(73));
        let local = due.to_zoned(paris());
        assert_eq!((local.hour(), local.minute()), (9, 0));
    }

    #[test]
    fn calendar_deadlines_add_exact_hours() {
        let five_days = Deadline::Calendar(Duration::from_secs(5 * 86_400));
        // Across the spring DST change: exactly 120 hours, so the local time moves by one hour.
        let created = at(2026, 3, 27, 18, 0);
        let due = deadline(created, five_days, &paris());
        assert_eq!(due.duration_since(created), SignedDuration::from_hours(120));
        assert_eq!(due, at(2026, 4, 1, 19, 0));
        // Weekends and holidays do not matter for calendar deadlines.
        assert_eq!(
            deadline(at(2026, 7, 10, 12, 0), five_days, &paris()),
            at(2026, 7, 15, 12, 0)
        );
        let huge = Deadline::Calendar(Duration::from_secs(u64::MAX / 2));
        assert_eq!(deadline(created, huge, &paris()), Timestamp::MAX);
    }

    #[test]
    fn easter_sunday_matches_published_dates() {
        let table = [
            (1961, 4, 2),
            (1981, 4, 19),
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
            (2285, 3, 22),
        ];
        for (y, m, d) in table {
            assert_eq!(easter_sunday(y), Some(date(y, m, d)), "Easter {y}");
        }
    }

    #[test]
    fn holidays_of_2026() {
        let expected = [
            date(2026, 1, 1),
            date(2026, 4, 6),
            date(2026, 5, 1),
            date(2026, 5, 8),
            date(2026, 5, 14),
            date(2026, 5, 25),
            date(2026, 7, 14),
            date(2026, 8, 15),
            date(2026, 11, 1),
            date(2026, 11, 11),
            date(2026, 12, 25),
        ];
        assert_eq!(french_holidays(2026), expected);
        // 2008: Ascension fell on 1 May.
        assert_eq!(french_holidays(2008).len(), 10);
        assert!(!is_working_day(date(2026, 4, 6)));
        assert!(!is_working_day(date(2026, 3, 7)));
        assert!(is_working_day(date(2026, 4, 7)));
    }

    #[test]
    fn every_year_has_a_valid_easter_and_deadlines_saturate() {
        for year in [-9999, -1, 0, 1, 1583, 9999] {
            let easter = easter_sunday(year).unwrap();
            assert_eq!(easter.weekday(), Weekday::Sunday, "{year}");
        }
        assert_eq!(easter_sunday(10_000), None);
        let last = at(9999, 12, 30, 12, 0);
        assert_eq!(working(last, 5), Timestamp::MAX);
    }

    #[test]
    fn elapsed_fraction_of_the_window() {
        let created = at(2026, 3, 6, 18, 0);
        let due = created + SignedDuration::from_hours(10);
        let after = |h: i64| created + SignedDuration::from_hours(h);
        assert_eq!(elapsed_fraction(created, due, created), 0.0);
        assert_eq!(elapsed_fraction(created, due, after(5)), 0.5);
        assert_eq!(elapsed_fraction(created, due, after(8)), 0.8);
        assert_eq!(elapsed_fraction(created, due, after(15)), 1.5);
        assert_eq!(elapsed_fraction(created, due, after(-3)), 0.0);
        assert_eq!(elapsed_fraction(created, created, created), 1.0);
    }

    #[test]
    fn at_the_deadline_vigie_accepts_what_it_can_fill_or_refuses() {
        let lines = crate::domain::test_orders::stocked;
        let refused = |reasons: &[Reason]| Some(Verdict::Refuse(reasons.iter().copied().collect()));
        use DeadlineAction::*;
        assert_eq!(verdict_at_deadline(Nothing, &lines(&[true]), true), None);
        assert_eq!(
            verdict_at_deadline(Refuse, &lines(&[true, true]), true),
            refused(&[Reason::Deadline])
        );
        assert_eq!(
            verdict_at_deadline(Accept, &lines(&[true, true]), false),
            Some(Verdict::Accept)
        );
        assert_eq!(
            verdict_at_deadline(Accept, &lines(&[true, false]), true),
            Some(Verdict::Partial {
                refused: vec!["l1".into()]
            })
        );
        let short = refused(&[Reason::Deadline, Reason::InsufficientStock]);
        assert_eq!(
            verdict_at_deadline(Accept, &lines(&[true, false]), false),
            short
        );
        assert_eq!(
            verdict_at_deadline(Accept, &lines(&[false, false]), true),
            short
        );
    }
}
