//! Journal fields (`comments`, `work_notes`, `comments_and_work_notes`), tracker-apis.md §1.11.
//!
//! Writing either field appends a `sys_journal_field` row (see
//! [`Instance::update`](super::records::Instance::update)); the field itself always reads as
//! `""`. With display values the field reads as the whole history, newest first, each entry
//! headed `YYYY-MM-DD HH:MM:SS - <user display name> (Additional comments|Work notes)` and
//! followed by a blank line — the text integrations parse when the journal table is hidden.

use super::records::{Instance, val};

/// The label ServiceNow puts in a journal entry's header.
fn label(element: &str) -> &'static str {
    match element {
        "work_notes" => "Work notes",
        _ => "Additional comments",
    }
}

/// The elements a journal field shows.
pub fn elements(field: &str) -> &'static [&'static str] {
    match field {
        "comments" => &["comments"],
        "work_notes" => &["work_notes"],
        _ => &["comments", "work_notes"],
    }
}

/// A journal field's display value: its entries, newest first.
pub fn display_text(instance: &Instance, table: &str, sys_id: &str, field: &str) -> String {
    instance
        .journal(table, sys_id, elements(field))
        .into_iter()
        .map(|row| {
            format!(
                "{} - {} ({})\n{}\n\n",
                val(row, "sys_created_on"),
                instance.user_display_name(val(row, "sys_created_by")),
                label(val(row, "element")),
                val(row, "value"),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::records::UserSeed;
    use super::*;

    #[test]
    fn display_text_lists_entries_newest_first_with_headers() {
        let mut inst = Instance::new(&[UserSeed {
            user_name: "fred".into(),
            name: "Fred Luddy".into(),
        }]);
        let rec = inst
            .insert(
                "incident",
                vec![("comments".into(), "first".into())],
                "fred",
            )
            .expect("insert");
        let id = rec["sys_id"].clone();
        inst.update(
            "incident",
            &id,
            vec![("work_notes".into(), "second".into())],
            "fred",
        )
        .expect("update");
        let text = display_text(&inst, "incident", &id, "comments_and_work_notes");
        let entries: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
        assert_eq!(entries.len(), 2);
        assert!(
            entries[0].ends_with(" - Fred Luddy (Work notes)\nsecond"),
            "{text}"
        );
        assert!(
            entries[1].ends_with(" - Fred Luddy (Additional comments)\nfirst"),
            "{text}"
        );
        assert_eq!(
            display_text(&inst, "incident", &id, "comments")
                .matches("first")
                .count(),
            1
        );
        assert!(!display_text(&inst, "incident", &id, "comments").contains("second"));
    }
}
