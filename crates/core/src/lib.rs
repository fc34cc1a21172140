//! Switchboard's domain: the types and rules every surface shares.
//!
//! Pure code only — no I/O, no runtime. Surfaces translate their own vocabulary into these
//! types; the store persists them.

pub mod call;
pub mod campaign;
pub mod csv_columns;
pub mod days;
pub mod dialer;
pub mod lead;
pub mod phone;
pub mod role;
pub mod schedule;
pub mod zones;

pub use call::CallStatus;
pub use lead::{Disposition, LeadStatus, Priority};
pub use phone::{PhoneError, PhoneNormalizer};
pub use role::Role;

/// A page request, clamped to the contract's bounds (default 20, at most 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
}

impl PageRequest {
    pub const DEFAULT_LIMIT: u32 = 20;
    pub const MAX_LIMIT: u32 = 100;

    pub fn new(page: Option<u32>, limit: Option<u32>) -> Self {
        let page = page.unwrap_or(1).max(1);
        let limit = limit
            .unwrap_or(Self::DEFAULT_LIMIT)
            .clamp(1, Self::MAX_LIMIT);
        Self { page, limit }
    }

    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.limit)
    }

    /// Number of pages for `total` items (0 when there are none).
    pub fn pages(&self, total: u64) -> u64 {
        total.div_ceil(u64::from(self.limit))
    }
}

/// `part` as a percentage of `whole`, to two decimals (0 when `whole` is 0).
pub fn percent(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        ((part as f64) * 10000.0 / (whole as f64)).round() / 100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_request_clamps() {
        let p = PageRequest::new(None, None);
        assert_eq!((p.page, p.limit), (1, 20));
        let p = PageRequest::new(Some(0), Some(1000));
        assert_eq!((p.page, p.limit), (1, 100));
        let p = PageRequest::new(Some(3), Some(20));
        assert_eq!(p.offset(), 40);
        assert_eq!(p.pages(41), 3);
        assert_eq!(p.pages(0), 0);
    }
}
