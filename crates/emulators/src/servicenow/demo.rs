//! Demo data: a group, two agents and a few incidents with comments and work notes, so a demo
//! has something to sync the moment the emulator starts. Off unless asked for.

use super::records::{DataError, Instance, val};

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Adds the demo records, written as `user`.
pub fn seed(instance: &mut Instance, user: &str) -> Result<(), DataError> {
    instance.insert(
        "sys_user_group",
        pairs(&[
            ("name", "Service Desk"),
            ("description", "First-line support"),
        ]),
        user,
    )?;
    for (user_name, name) in [("abel.tuter", "Abel Tuter"), ("beth.anglin", "Beth Anglin")] {
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        instance.insert(
            "sys_user",
            pairs(&[
                ("user_name", user_name),
                ("name", name),
                ("first_name", first),
                ("last_name", last),
                ("email", &format!("{user_name}@example.com")),
            ]),
            user,
        )?;
    }
    let incidents: [&[(&str, &str)]; 3] = [
        &[
            (
                "short_description",
                "Email is not delivered to external recipients",
            ),
            (
                "description",
                "Since this morning mail to partner domains bounces.",
            ),
            ("caller_id", "abel.tuter"),
            ("assignment_group", "Service Desk"),
            ("impact", "2"),
            ("urgency", "1"),
            ("category", "network"),
            ("comments", "We are looking into it."),
        ],
        &[
            ("short_description", "Laptop battery drains within an hour"),
            ("caller_id", "beth.anglin"),
            ("assigned_to", "beth.anglin"),
            ("state", "2"),
            ("category", "hardware"),
            ("work_notes", "Ordered a replacement battery."),
        ],
        &[
            ("short_description", "VPN drops every ten minutes"),
            ("caller_id", "abel.tuter"),
            ("impact", "1"),
            ("urgency", "2"),
            ("category", "network"),
        ],
    ];
    for fields in incidents {
        instance.insert("incident", pairs(fields), user)?;
    }
    let first = instance
        .table("incident")?
        .rows
        .values()
        .next()
        .map(|r| val(r, "sys_id").to_owned());
    if let Some(id) = first {
        instance.update(
            "incident",
            &id,
            pairs(&[(
                "work_notes",
                "Mail relay queue is growing; escalated to network team.",
            )]),
            user,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_creates_incidents_with_resolved_references_and_journals() {
        let mut inst = Instance::new(&[]);
        seed(&mut inst, "admin").expect("seed");
        let incidents = &inst.table("incident").expect("table").rows;
        assert_eq!(incidents.len(), 3);
        let first = incidents.values().next().expect("one");
        assert_eq!(val(first, "priority"), "2");
        assert_eq!(
            val(first, "caller_id").len(),
            32,
            "caller resolved to a sys_id"
        );
        assert_eq!(val(first, "assignment_group").len(), 32);
        assert_eq!(
            inst.journal(
                "incident",
                val(first, "sys_id"),
                &["comments", "work_notes"]
            )
            .len(),
            2
        );
    }
}
