//! How the sync rules see this node's items: the [`Schema`] of the tracker the node serves
//! (the built-in tracker's, or a mirrored tracker's such as ServiceNow's), held as a [`View`]
//! that the engine, the console and the API share. The JSON shapes themselves live with each
//! tracker in `tandem-connectors` (`builtin`, `servicenow::ServiceNowSchema`).

use std::sync::Arc;

use tandem_connectors::Schema;

pub use tandem_connectors::FieldError;
pub use tandem_connectors::builtin::{
    field_value, item_json, new_item_from_json, unwrap_custom_fields, wrap_custom_fields,
    wrap_received_custom_fields,
};

/// The schema of the tracker the node serves; cheap to clone. Dereferences to the
/// [`Schema`], whose methods are the way to ask it anything.
#[derive(Debug, Clone)]
pub struct View(Arc<dyn Schema>);

impl Default for View {
    fn default() -> Self {
        Self::builtin()
    }
}

impl View {
    /// The built-in tracker's items.
    pub fn builtin() -> Self {
        Self(tandem_connectors::schema::builtin())
    }

    pub fn new(schema: Arc<dyn Schema>) -> Self {
        Self(schema)
    }

    /// Whether both are the same schema (a node's schema changes only when its tracker
    /// settings do).
    pub fn same(&self, other: &View) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    pub fn schema(&self) -> &Arc<dyn Schema> {
        &self.0
    }
}

impl std::ops::Deref for View {
    type Target = dyn Schema;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}
