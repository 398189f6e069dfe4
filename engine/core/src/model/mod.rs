//! The records of the spec as plain data. Field names are the spec's; enums read and print as the
//! spec's `snake_case` words. Nothing here touches storage or knows a workflow.

mod amount;
mod campaign;
mod catalogue;
mod contact;
mod document;
mod entry;
mod field;
mod operation;
mod segment;
pub(crate) mod serde_date;
mod user;
mod value;

pub use amount::Amount;
pub use campaign::{Campaign, CampaignEntry};
pub use catalogue::{
    Attachment, AttachmentContent, InteractionGroup, InteractionTemplate, Salesperson,
    TemplateLanguage, WizardAction,
};
pub use contact::{Contact, ContactKind, ContactView};
pub use document::{
    AccountKind, BusinessRelation, DocumentAction, DocumentEvent, DocumentParty, DocumentType,
    TemplateSetup,
};
pub use entry::{
    Comment, CommentView, Correspondence, DeliveryStatus, EntryView, Evaluation, Flow, InitiatedBy,
    InteractionLogEntry, LoggedSegment,
};
pub use field::{FieldDef, FieldRecord, FieldType};
pub use operation::{Change, Doing, MAX_SCRIPT_KEPT, Operation, TableCount};
pub use segment::{
    ContactFilter, ContactSelector, CriteriaAction, CriteriaStep, FieldCondition, FieldTest,
    SavedCriteria, Segment, SegmentLine, StepOptions,
};
pub use user::{Role, User};
pub use value::{FieldValue, FieldValueView};

/// Declares an enum of spec words: `as_str`, `FromStr`, `Display`, and the list of all values.
macro_rules! spec_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spec's word for this value.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            /// The accepted words, for error messages.
            pub fn words() -> String {
                Self::ALL.iter().map(|v| format!("\"{}\"", v.as_str())).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let lower = s.trim().to_ascii_lowercase();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == lower)
                    .ok_or_else(|| format!("\"{s}\" is not one of {}", Self::words()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use spec_enum;

/// Normalizes a code as the spec stores it: trimmed, upper-case.
pub fn normalize_code(code: &str) -> String {
    code.trim().to_uppercase()
}
