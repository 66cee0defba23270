//! The API's JSON shapes and their translation to and from the domain types. Field names are
//! snake_case; times are RFC 3339 in UTC. Requests refuse unknown fields, so a misspelt field
//! is a 400 naming it rather than a silent no-op.

use serde::{Deserialize, Deserializer, Serialize};
use tandem_model::{
    Attachment, Change, Comment, CustomFields, Item, ItemPatch, NewItem, Person, Priority, Project,
    Status, TrackerEvent,
};
use utoipa::ToSchema;

use crate::error::ApiError;

#[derive(Debug, Serialize, Deserialize, Clone, PartialEq, Eq, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonJson {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl From<&Person> for PersonJson {
    fn from(p: &Person) -> Self {
        PersonJson {
            name: p.name.clone(),
            email: p.email.clone(),
        }
    }
}

impl From<PersonJson> for Person {
    fn from(p: PersonJson) -> Self {
        Person {
            name: p.name.trim().to_owned(),
            email: p
                .email
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectJson {
    pub key: String,
    pub name: String,
    pub description: String,
    pub created: String,
    pub item_count: i64,
}

impl From<&Project> for ProjectJson {
    fn from(p: &Project) -> Self {
        ProjectJson {
            key: p.key.to_string(),
            name: p.name.clone(),
            description: p.description.clone(),
            created: p.created.to_string(),
            item_count: p.item_count,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ItemJson {
    pub key: String,
    pub project: String,
    pub summary: String,
    pub description: String,
    pub status: &'static str,
    pub priority: &'static str,
    pub assignee: Option<PersonJson>,
    pub reporter: Option<PersonJson>,
    pub labels: Vec<String>,
    /// Custom fields by name; any JSON value.
    #[schema(value_type = Object)]
    pub custom_fields: CustomFields,
    /// Task, Bug, Story, Epic or Sub-task.
    #[serde(rename = "type")]
    pub item_type: &'static str,
    /// The parent item's key, or null.
    pub parent: Option<String>,
    pub comments: Vec<CommentJson>,
    pub attachments: Vec<AttachmentJson>,
    pub created: String,
    pub updated: String,
    pub version: i64,
}

impl From<&Item> for ItemJson {
    fn from(item: &Item) -> Self {
        let key = item.key.to_string();
        ItemJson {
            project: item.key.project.to_string(),
            summary: item.summary.clone(),
            description: item.description.clone(),
            status: item.status.as_str(),
            priority: item.priority.as_str(),
            assignee: item.assignee.as_ref().map(Into::into),
            reporter: item.reporter.as_ref().map(Into::into),
            labels: item.labels.clone(),
            custom_fields: item.custom_fields.clone(),
            item_type: item.item_type.as_str(),
            parent: item.parent.as_ref().map(ToString::to_string),
            comments: item.comments.iter().map(Into::into).collect(),
            attachments: item
                .attachments
                .iter()
                .map(|a| AttachmentJson::new(&key, a))
                .collect(),
            created: item.created.to_string(),
            updated: item.updated.to_string(),
            version: item.version,
            key,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentJson {
    pub id: i64,
    pub author: PersonJson,
    pub body: String,
    pub internal: bool,
    pub created: String,
    pub edited: Option<String>,
    /// For a comment sync copied from a remote one: where it came from and who wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<CommentOriginJson>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentOriginJson {
    /// The remote side's short name on the connection that brought the comment.
    pub synced_from: String,
    /// Who wrote it there, when the remote said.
    pub author: Option<PersonJson>,
}

impl From<&Comment> for CommentJson {
    fn from(c: &Comment) -> Self {
        CommentJson {
            id: c.id,
            author: (&c.author).into(),
            body: c.body.clone(),
            internal: c.internal,
            created: c.created.to_string(),
            edited: c.edited.map(|t| t.to_string()),
            origin: c.origin.as_ref().map(|o| CommentOriginJson {
                synced_from: o.synced_from.clone(),
                author: o.author.as_ref().map(Into::into),
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentJson {
    pub id: i64,
    pub filename: String,
    pub mime_type: String,
    pub size: i64,
    pub sha256: String,
    pub author: PersonJson,
    pub created: String,
    /// Where the bytes are downloaded from.
    pub content_url: String,
}

impl AttachmentJson {
    pub fn new(item_key: &str, a: &Attachment) -> Self {
        AttachmentJson {
            id: a.id,
            filename: a.filename.clone(),
            mime_type: a.mime_type.clone(),
            size: a.size,
            sha256: a.sha256.clone(),
            author: (&a.author).into(),
            created: a.created.to_string(),
            content_url: format!("/api/v1/items/{item_key}/attachments/{}", a.id),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeJson {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub field: String,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl From<&Change> for ChangeJson {
    fn from(c: &Change) -> Self {
        ChangeJson {
            id: c.id,
            at: c.at.to_string(),
            actor: c.actor.clone(),
            field: c.change.field.clone(),
            from: c.change.from.clone(),
            to: c.change.to.clone(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventJson {
    pub seq: i64,
    pub item: String,
    pub kind: &'static str,
    pub at: String,
    pub actor: String,
    pub via_sync: Option<String>,
    pub version: i64,
}

impl From<&TrackerEvent> for EventJson {
    fn from(e: &TrackerEvent) -> Self {
        EventJson {
            seq: e.seq,
            item: e.item.to_string(),
            kind: e.kind.as_str(),
            at: e.at.to_string(),
            actor: e.actor.clone(),
            via_sync: e.via_sync.clone(),
            version: e.version,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateItem {
    pub project: String,
    pub summary: String,
    #[serde(default)]
    pub description: String,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<PersonJson>,
    pub reporter: Option<PersonJson>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    /// Custom fields by name; any JSON value.
    #[schema(value_type = Object)]
    pub custom_fields: CustomFields,
    #[serde(rename = "type")]
    pub item_type: Option<String>,
    pub parent: Option<String>,
}

fn parse_type(text: &str) -> Result<tandem_model::ItemType, ApiError> {
    text.parse()
        .map_err(|e: tandem_model::ValidationError| ApiError::BadRequest(e.to_string()))
}

fn parse_parent(text: &str) -> Result<tandem_model::ItemKey, ApiError> {
    text.parse()
        .map_err(|e: tandem_model::ValidationError| ApiError::BadRequest(format!("parent: {e}")))
}

impl CreateItem {
    /// The domain item; the caller is the reporter unless one is named.
    pub fn into_new_item(self, caller: &str) -> Result<NewItem, ApiError> {
        let project = self
            .project
            .parse()
            .map_err(|e: tandem_model::ValidationError| ApiError::BadRequest(e.to_string()))?;
        let mut item = NewItem::new(project, self.summary);
        item.description = self.description;
        if let Some(s) = self.status {
            item.status = parse_status(&s)?;
        }
        if let Some(p) = self.priority {
            item.priority = parse_priority(&p)?;
        }
        item.assignee = self.assignee.map(Into::into);
        item.reporter = Some(self.reporter.map_or_else(
            || Person {
                name: caller.to_owned(),
                email: None,
            },
            Into::into,
        ));
        item.labels = tandem_model::normalize_labels(&self.labels);
        item.custom_fields = self.custom_fields;
        if let Some(t) = self.item_type {
            item.item_type = parse_type(&t)?;
        }
        item.parent = self.parent.as_deref().map(parse_parent).transpose()?;
        Ok(item)
    }
}

/// A partial update. `"assignee": null` unassigns; an absent field is left alone.
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchItem {
    pub summary: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub assignee: Option<Option<PersonJson>>,
    #[serde(default, deserialize_with = "present")]
    pub reporter: Option<Option<PersonJson>>,
    pub labels: Option<Vec<String>>,
    /// Merged into the item's: a field set to `null` is removed.
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<CustomFields>,
    #[serde(rename = "type")]
    pub item_type: Option<String>,
    /// `"parent": null` removes the parent.
    #[serde(default, deserialize_with = "present")]
    pub parent: Option<Option<String>>,
    /// The version the caller last read; the update is refused with 409 if the item has
    /// changed since.
    pub version: Option<i64>,
}

/// Tells a field set to `null` (`Some(None)`) from an absent one (`None`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl PatchItem {
    pub fn into_patch(self) -> Result<ItemPatch, ApiError> {
        Ok(ItemPatch {
            summary: self.summary,
            description: self.description,
            status: self.status.as_deref().map(parse_status).transpose()?,
            priority: self.priority.as_deref().map(parse_priority).transpose()?,
            assignee: self.assignee.map(|a| a.map(Into::into)),
            reporter: self.reporter.map(|r| r.map(Into::into)),
            labels: self.labels,
            custom_fields: self.custom_fields,
            item_type: self.item_type.as_deref().map(parse_type).transpose()?,
            parent: self
                .parent
                .map(|p| p.as_deref().map(parse_parent).transpose())
                .transpose()?,
            expected_version: self.version,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    pub body: String,
    #[serde(default)]
    pub internal: bool,
    pub author: Option<PersonJson>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditComment {
    pub body: String,
}

pub fn parse_status(s: &str) -> Result<Status, ApiError> {
    s.parse()
        .map_err(|e: tandem_model::ValidationError| ApiError::BadRequest(e.to_string()))
}

pub fn parse_priority(s: &str) -> Result<Priority, ApiError> {
    s.parse()
        .map_err(|e: tandem_model::ValidationError| ApiError::BadRequest(e.to_string()))
}
