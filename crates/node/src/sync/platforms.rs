//! What Exalate offers only on other platforms, and the message a script that calls it gets
//! here: "X is a Jira Data Center API; this node serves ServiceNow — see …", rather than a
//! bare "no method". Also the names Visual mode's rules use (`left`, `right`), which are not
//! scripts, and `workflowHelper`, Jira's.

use std::rc::Rc;

use tandem_script::{HostObject, Invoker, Value};

/// Where the admin reads what this node offers instead.
pub const SEE: &str = "see docs/exalate-api.md";

/// The tracker a node serves, as messages name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracker {
    Builtin,
    ServiceNow,
}

impl Tracker {
    pub fn name(self) -> &'static str {
        match self {
            Tracker::Builtin => "the built-in tracker",
            Tracker::ServiceNow => "ServiceNow",
        }
    }
}

/// The platform whose API a class of Exalate's scripts is (`ComponentAccessor`: Jira Data
/// Center's), or `None`.
pub fn foreign_class(class: &str) -> Option<&'static str> {
    Some(match class {
        "ComponentAccessor"
        | "IssueManager"
        | "CustomFieldManager"
        | "OptionsManager"
        | "IssueLinkManager"
        | "ApplicationUser"
        | "MutableIssue"
        | "IssueService"
        | "ISyncInitiationService" => "Jira Data Center",
        "WorkItemTrackingHttpClient" | "VssConnection" => "Azure DevOps",
        _ => return None,
    })
}

/// The refusal of `class.member` for a class of another platform, or `None`.
pub fn class_refusal(class: &str, member: &str, tracker: Tracker) -> Option<String> {
    let platform = foreign_class(class)?;
    let what = if member == "new" {
        format!("new {class}(…)")
    } else {
        format!("{class}.{member}")
    };
    Some(format!(
        "{what} is a {platform} API; this node serves {} — {SEE}",
        tracker.name()
    ))
}

/// The platform whose `nodeHelper` method `method` is, when it is not this node's.
fn node_helper_platform(method: &str, tracker: Tracker) -> Option<&'static str> {
    let jira = matches!(
        method,
        "getOption"
            | "getOptions"
            | "createOption"
            | "getCascadingSelect"
            | "createVersion"
            | "getVersion"
            | "createComponent"
            | "getComponent"
            | "getCustomFieldDefaultValue"
            | "canUserEditComments"
            | "getRemoteIssueLinks"
            | "addHTTPHeader"
            | "getJiraCloudUser"
            | "getSecurityLevel"
    );
    if jira {
        return Some("Jira");
    }
    if matches!(
        method,
        "getCustomField" | "getTemplateIdByName" | "getServiceIdByName" | "getTeamIdByName"
    ) {
        return Some("Xurrent");
    }
    let servicenow = matches!(
        method,
        "getTableByLink" | "getReference" | "getUrgency" | "getImpact" | "getDisplayValue"
    );
    if servicenow && tracker != Tracker::ServiceNow {
        return Some("ServiceNow");
    }
    None
}

/// The refusal of `nodeHelper.method` where it belongs to another platform, or `None`.
pub fn node_helper_refusal(method: &str, tracker: Tracker) -> Option<String> {
    let platform = node_helper_platform(method, tracker)?;
    Some(format!(
        "nodeHelper.{method} is a {platform} API; this node serves {} — {SEE}",
        tracker.name()
    ))
}

/// The platform whose REST API a path `httpClient` was given is, when it is plainly
/// another's (`/rest/api/3/issue`: Jira's), or `None`.
pub fn rest_platform(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or(path);
    if path.contains("/rest/api/") || path.contains("/rest/agile/") {
        Some("Jira")
    } else if path.contains("/_apis/") {
        Some("Azure DevOps")
    } else if path.contains("/services/data/") {
        Some("Salesforce")
    } else if path.starts_with("/api/v2/") {
        Some("Zendesk")
    } else {
        None
    }
}

/// A variable Exalate binds on other platforms or in other modes, bound here only to say so:
/// `workflowHelper` (Jira's transitions), `left` and `right` (Visual mode's sides).
pub struct Refusing {
    name: &'static str,
    why: String,
}

impl Refusing {
    fn fail(&self) -> String {
        self.why.clone()
    }
}

impl HostObject for Refusing {
    fn type_name(&self) -> &str {
        self.name
    }

    fn get_property(&self, _name: &str) -> Result<Option<Value>, String> {
        Err(self.fail())
    }

    fn set_property(&self, _name: &str, _value: Value) -> Result<(), String> {
        Err(self.fail())
    }

    fn call_method(
        &self,
        _name: &str,
        _args: &[Value],
        _invoker: &mut dyn Invoker,
    ) -> Option<Result<Value, String>> {
        Some(Err(self.fail()))
    }
}

/// The variables that only say what they are not here.
pub fn refusing_variables(tracker: Tracker) -> Vec<(&'static str, Value)> {
    let visual = |side: &'static str| Refusing {
        name: side,
        why: format!(
            "`{side}` is a name of Visual mode's rules, and Visual mode's rules are not scripts: in Script mode the remote item is `replica` and this side's is `issue` (also `entity`, `workItem`) — {SEE}"
        ),
    };
    let status = match tracker {
        Tracker::Builtin => "issue.setStatus(\"Done\")",
        Tracker::ServiceNow => "entity.setStatus(\"Resolved\")",
    };
    vec![
        (
            "workflowHelper",
            Value::Host(Rc::new(Refusing {
                name: "workflowHelper",
                why: format!(
                    "workflowHelper is a Jira API (workflow transitions); this node serves {}: set the status with {status} — {SEE}",
                    tracker.name()
                ),
            })),
        ),
        ("left", Value::Host(Rc::new(visual("left")))),
        ("right", Value::Host(Rc::new(visual("right")))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_platforms_helpers_are_named_with_the_platform_and_this_node() {
        let m = node_helper_refusal("getOption", Tracker::ServiceNow).unwrap();
        assert!(
            m.starts_with("nodeHelper.getOption is a Jira API; this node serves ServiceNow — see"),
            "{m}"
        );
        let m = node_helper_refusal("getUrgency", Tracker::Builtin).unwrap();
        assert!(
            m.contains("is a ServiceNow API; this node serves the built-in tracker"),
            "{m}"
        );
        assert_eq!(node_helper_refusal("getUrgency", Tracker::ServiceNow), None);
        assert_eq!(node_helper_refusal("getStatus", Tracker::Builtin), None);
        let m = class_refusal("ComponentAccessor", "getIssueManager", Tracker::ServiceNow).unwrap();
        assert!(
            m.starts_with("ComponentAccessor.getIssueManager is a Jira Data Center API; this node serves ServiceNow — see"),
            "{m}"
        );
        assert_eq!(rest_platform("/rest/api/3/issue/X-1"), Some("Jira"));
        assert_eq!(
            rest_platform("/DefaultCollection/_apis/wit/workitems/1"),
            Some("Azure DevOps")
        );
        assert_eq!(
            rest_platform("/services/data/v54.0/sobjects/Case"),
            Some("Salesforce")
        );
        assert_eq!(rest_platform("/items/SUP-1"), None);
    }
}
