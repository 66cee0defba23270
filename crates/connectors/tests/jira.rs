//! The Jira connector over HTTP against the Jira emulator, in both flavours (Cloud REST v3 and
//! Data Center REST v2, `--flavour dc`): metadata, issues with every kind of field,
//! transitions, comments, attachments (`operations`); JQL polling and own writes (`poll`);
//! rate limits and server errors (`faults`); and the whole flow through Stoplight Prism against
//! Atlassian's OpenAPI document (`contract`). Each test starts its own emulator on
//! 127.0.0.1:0.

/// Runs a story once per flavour: `name::cloud` and `name::data_center`.
macro_rules! both_flavours {
    ($name:ident) => {
        mod $name {
            use tandem_connectors::jira::Flavour;
            #[tokio::test]
            async fn cloud() {
                super::$name(Flavour::Cloud).await
            }
            #[tokio::test]
            async fn data_center() {
                super::$name(Flavour::DataCenter).await
            }
        }
    };
}

#[path = "jira/common.rs"]
mod common;
#[path = "jira/contract.rs"]
mod contract;
#[path = "jira/faults.rs"]
mod faults;
#[path = "jira/operations.rs"]
mod operations;
#[path = "jira/poll.rs"]
mod poll;
