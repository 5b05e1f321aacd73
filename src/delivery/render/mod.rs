//! What a job says: customer messages rendered from templates and the facts of their event,
//! and on-call notices in each webhook format.

pub mod alert_formats;
pub mod facts;
pub mod preview;
pub mod templates;

pub use alert_formats::Notice;
pub use facts::{Facts, context, sample_facts};
pub use preview::{check, preview};
pub use templates::{Rendered, TemplateError, Templates};
