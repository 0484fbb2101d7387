//! Teams: claiming, joining by QR code, starting, leaving, and the races between them.

mod flow;
mod join_tokens;
mod leave;
mod qr;
mod races;

use e2e::{expect, str_of, TestApp};

/// Numbered envoys `from..from+n` join the team with the leader's current token, one second
/// apart (so their joining order is unambiguous); returns their (token, id).
async fn fill(
    app: &TestApp,
    leader: &str,
    team_id: &str,
    from: u32,
    n: u32,
) -> Vec<(String, String)> {
    let token = app.join_token(leader, team_id).await;
    let mut out = Vec::new();
    for (tok, id) in app.quick_envoys(from, n).await {
        app.clock.advance(chrono::Duration::seconds(1));
        let team = expect(app.join(&tok, &token, None).await, 200);
        assert_eq!(str_of(&team, "id"), team_id);
        out.push((tok, id));
    }
    out
}

/// The user ids and roles of a team's members, in the order the server lists them.
fn members(team: &serde_json::Value) -> Vec<(String, String)> {
    team["members"]
        .as_array()
        .unwrap_or_else(|| panic!("no members in {team}"))
        .iter()
        .map(|m| {
            (
                str_of(m, "user_id").to_owned(),
                str_of(m, "role").to_owned(),
            )
        })
        .collect()
}
