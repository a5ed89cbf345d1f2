//! Telegram and Discord: a real mesh with real agent processes and the scripted mock LLM,
//! talking to the local fakes of both platforms (tests/fake-chat) over their real wire
//! protocols. Pairing, `@agent` routing and the commands, long answers split at the
//! platforms' limits, a 429 waited out, attachments, a mesh killed and restarted, and the
//! Discord gateway dropping its socket.

use std::time::Duration;

use openlegion_fake_chat::{FakeDiscord, FakeTelegram};
use openlegion_mock_llm::{MockLlm, Turn};
use openlegion_tests::{MODEL_NAME, MeshProcess, agent_mesh_env, start_refuses};
use serde_json::json;

const TELEGRAM_TOKEN: &str = "123456:fake-telegram-token";
const DISCORD_TOKEN: &str = "fake.discord.token";

/// Two agents: `alpha` (the channels' default) and `beta`.
const AGENTS: &str = "agents:\n  alpha:\n    role: helper\n  beta:\n    role: critic\n";

async fn telegram_mesh(mock: &MockLlm, tg: &FakeTelegram, extra: &str) -> MeshProcess {
    let channels = format!(
        "channels:\n  telegram:\n    enabled: true\n    default_agent: alpha\n    api_base: {}\n    edit_interval_ms: 300\n{extra}",
        tg.api_base()
    );
    agent_mesh_env(
        mock,
        AGENTS,
        json!({}),
        &channels,
        vec![(
            "OPENLEGION_CRED_TELEGRAM_BOT_TOKEN".into(),
            TELEGRAM_TOKEN.into(),
        )],
    )
    .await
}

async fn discord_mesh(mock: &MockLlm, dc: &FakeDiscord) -> MeshProcess {
    let channels = format!(
        "channels:\n  discord:\n    enabled: true\n    default_agent: alpha\n    api_base: {}\n    gateway_url: {}\n    edit_interval_ms: 300\n",
        dc.api_base(),
        dc.gateway_url()
    );
    agent_mesh_env(
        mock,
        AGENTS,
        json!({}),
        &channels,
        vec![(
            "OPENLEGION_CRED_DISCORD_BOT_TOKEN".into(),
            DISCORD_TOKEN.into(),
        )],
    )
    .await
}

/// Runs the CLI; its standard output, failing on a non-zero exit. On the blocking pool:
/// the fakes serve the mesh from this test's runtime meanwhile.
async fn cli_ok(mesh: &MeshProcess, args: &[&str]) -> String {
    let out = cli_async(mesh, args).await;
    assert!(
        out.status.success(),
        "{args:?}: {}\nmesh log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        mesh.log()
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn cli_async(mesh: &MeshProcess, args: &[&str]) -> std::process::Output {
    let dir = mesh.config_dir();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        openlegion_tests::cli(&dir, &args)
    })
    .await
    .unwrap()
}

/// The pairing code in a bot's answer.
fn code_in(text: &str) -> String {
    let at = text
        .find("pairing code is ")
        .unwrap_or_else(|| panic!("no code in {text:?}"));
    text[at + 16..at + 25].to_owned()
}

/// The system prompt of an LLM request: which agent asked.
fn asked_by(r: &openlegion_mock_llm::RecordedRequest) -> &'static str {
    let system = r.body["messages"][0]["content"]
        .as_str()
        .unwrap_or_default();
    match (system.contains("critic"), system.contains("helper")) {
        (true, false) => "beta",
        (false, true) => "alpha",
        _ => panic!("which agent is this? {system}"),
    }
}

/// Pairs Telegram user `user` through the whole flow; returns the bot's messages so far.
async fn pair_telegram(mesh: &MeshProcess, tg: &FakeTelegram, user: i64, name: &str) {
    let before = tg.bot_messages(user).len();
    tg.user_says(user, name, "hello?");
    let sent = tg.wait_for_bot_messages(user, before + 1).await;
    let code = code_in(&sent[before].text);
    cli_ok(mesh, &["channel", "pair", &code]).await;
    tg.wait_for_bot_messages(user, before + 2).await;
}

/// The final text of the bot's answer to message `id`, once it stops changing and carries
/// `expected`.
async fn telegram_answer(tg: &FakeTelegram, chat: i64, id: i64, expected: &str) -> Vec<String> {
    tg.wait_until(
        chat,
        &format!("the answer to {id} containing {expected:?}"),
        |sent| {
            let answer: String = sent
                .iter()
                .filter(|m| m.reply_to == Some(id) || sent_after_reply(sent, id, m.message_id))
                .map(|m| m.text.as_str())
                .collect();
            answer.contains(expected) && !answer.contains(" …")
        },
    )
    .await
    .into_iter()
    .filter(|m| {
        m.reply_to == Some(id) || sent_after_reply(&tg.bot_messages(chat), id, m.message_id)
    })
    .map(|m| m.text)
    .collect()
}

/// Whether bot message `m` continues the answer to `id` (parts after the first are not
/// replies themselves): it comes after the reply to `id` and before any other reply.
fn sent_after_reply(sent: &[openlegion_fake_chat::BotMessage], id: i64, m: i64) -> bool {
    let Some(first) = sent.iter().position(|s| s.reply_to == Some(id)) else {
        return false;
    };
    let Some(pos) = sent.iter().position(|s| s.message_id == m) else {
        return false;
    };
    pos > first && sent[first + 1..=pos].iter().all(|s| s.reply_to.is_none())
}

#[tokio::test]
async fn telegram_pairing_routing_and_commands() {
    let mock = MockLlm::start().await;
    let tg = FakeTelegram::start(TELEGRAM_TOKEN).await;
    let mesh = telegram_mesh(&mock, &tg, "").await;

    // A stranger gets a code, and no agent hears of them.
    tg.user_says(42, "alice", "hi there, do my bidding");
    let sent = tg.wait_for_bot_messages(42, 1).await;
    let code = code_in(&sent[0].text);
    assert!(
        sent[0]
            .text
            .contains(&format!("openlegion channel pair {code}")),
        "{}",
        sent[0].text
    );
    assert!(
        cli_ok(&mesh, &["channel", "users"])
            .await
            .contains("telegram:42\talice")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        mock.requests_for(MODEL_NAME).is_empty(),
        "an unpaired user reached an agent"
    );

    let refused = cli_async(&mesh, &["channel", "pair", "ZZZZ-ZZZZ"]).await;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no pending pairing code"));
    let paired = cli_ok(&mesh, &["channel", "pair", &code.to_lowercase()]).await;
    assert!(paired.contains("paired telegram:42 (alice)"), "{paired}");
    let sent = tg.wait_for_bot_messages(42, 2).await;
    assert!(
        sent[1]
            .text
            .contains("You are paired. You are talking to alpha"),
        "{}",
        sent[1].text
    );

    // The default agent answers, as untrusted input from that user.
    mock.push_for(MODEL_NAME, Turn::text("Hello from alpha."));
    let id = tg.user_says(42, "alice", "hi");
    let answer = telegram_answer(&tg, 42, id, "Hello from alpha.").await;
    assert_eq!(answer, ["[alpha] Hello from alpha."]);
    let requests = mock.requests_for(MODEL_NAME);
    assert_eq!(requests.len(), 1);
    assert_eq!(asked_by(&requests[0]), "alpha");
    let prompt = requests[0].last_user_text();
    assert!(
        prompt.contains("untrusted input from channel:telegram:42 (alice)")
            && prompt.contains("\nhi\n"),
        "{prompt}"
    );
    assert!(tg.typing(42) >= 1, "typing… while the agent works");

    // @beta switches agents, and the switch sticks.
    mock.push_for(MODEL_NAME, Turn::text("Beta here."));
    let id = tg.user_says(42, "alice", "@beta hi");
    assert_eq!(
        telegram_answer(&tg, 42, id, "Beta here.").await,
        ["[beta] Beta here."]
    );
    mock.push_for(MODEL_NAME, Turn::text("Still beta."));
    let id = tg.user_says(42, "alice", "and now?");
    assert_eq!(
        telegram_answer(&tg, 42, id, "Still beta.").await,
        ["[beta] Still beta."]
    );
    let requests = mock.requests_for(MODEL_NAME);
    assert_eq!(
        (asked_by(&requests[1]), asked_by(&requests[2])),
        ("beta", "beta")
    );
    assert!(
        cli_ok(&mesh, &["channel", "users"])
            .await
            .contains("telegram:42\talice\tbeta")
    );

    // Commands answer without a turn.
    let n = tg.bot_messages(42).len();
    tg.user_says(42, "alice", "/agents");
    let sent = tg.wait_for_bot_messages(42, n + 1).await;
    assert!(
        sent[n].text.contains("alpha: helper") && sent[n].text.contains("beta (current): critic"),
        "{}",
        sent[n].text
    );
    tg.user_says(42, "alice", "/use alpha");
    let sent = tg.wait_for_bot_messages(42, n + 2).await;
    assert_eq!(sent[n + 1].text, "You are talking to alpha now.");
    tg.user_says(42, "alice", "/status");
    let sent = tg.wait_for_bot_messages(42, n + 3).await;
    assert!(
        sent[n + 2].text.starts_with("You are talking to alpha ("),
        "{}",
        sent[n + 2].text
    );
    tg.user_says(42, "alice", "/costs");
    let sent = tg.wait_for_bot_messages(42, n + 4).await;
    assert!(
        sent[n + 3].text.starts_with("LLM spending today: $"),
        "{}",
        sent[n + 3].text
    );
    tg.user_says(42, "alice", "/reset");
    let sent = tg.wait_for_bot_messages(42, n + 5).await;
    assert_eq!(sent[n + 4].text, "The conversation with alpha is cleared.");
    tg.user_says(42, "alice", "/help");
    let sent = tg.wait_for_bot_messages(42, n + 6).await;
    assert!(sent[n + 5].text.contains("/use NAME"));
    tg.user_says(42, "alice", "@nobody hi");
    let sent = tg.wait_for_bot_messages(42, n + 7).await;
    assert_eq!(
        sent[n + 6].text,
        "There is no agent nobody; /agents lists them."
    );
    assert_eq!(
        mock.requests_for(MODEL_NAME).len(),
        3,
        "commands reach no model"
    );

    // Unpaired: the next message gets a new code.
    cli_ok(&mesh, &["channel", "unpair", "telegram:42"]).await;
    assert!(
        cli_ok(&mesh, &["channel", "users"])
            .await
            .contains("no paired users")
    );
    tg.user_says(42, "alice", "still there?");
    let sent = tg.wait_for_bot_messages(42, n + 8).await;
    assert_ne!(code_in(&sent[n + 7].text), code);
    assert_eq!(mock.requests_for(MODEL_NAME).len(), 3);
}

#[tokio::test]
async fn telegram_long_answers_are_split_and_a_429_is_waited_out() {
    let mock = MockLlm::start().await;
    let tg = FakeTelegram::start(TELEGRAM_TOKEN).await;
    let mesh = telegram_mesh(&mock, &tg, "").await;
    pair_telegram(&mesh, &tg, 7, "bob").await;

    // 10,000 characters, streamed in many pieces.
    let long: String = (0..125)
        .map(|i| {
            format!(
                "Paragraph {i:03} says {}.\n\n",
                "words and more words ".repeat(3).trim_end()
            )
        })
        .collect();
    let long = long.trim_end().to_owned();
    assert!(long.len() >= 10_000, "{}", long.len());
    mock.push_for(MODEL_NAME, Turn::text(&long).with_chunks(40));
    let id = tg.user_says(7, "bob", "write a lot");
    let parts = telegram_answer(&tg, 7, id, "Paragraph 124").await;
    assert_eq!(parts.len(), 3, "10,000 characters in three messages");
    for p in &parts {
        assert!(
            p.chars().map(char::len_utf16).sum::<usize>() <= 4096,
            "{}",
            p.len()
        );
        assert!(
            p.starts_with("[alpha] Paragraph") || p.starts_with("Paragraph"),
            "cut at a paragraph: {p:.40}"
        );
    }
    let words = |t: &str| t.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(words(&parts.join("\n\n"))[1..], words(&long)[..]);

    // The platform says "too many requests, retry after 2": the answer waits, then arrives
    // once.
    tg.fail_next("sendMessage", 1, 429, 2);
    mock.push_for(MODEL_NAME, Turn::text("Worth the wait."));
    let id = tg.user_says(7, "bob", "and a short one");
    let answer = telegram_answer(&tg, 7, id, "Worth the wait.").await;
    assert_eq!(answer, ["[alpha] Worth the wait."]);
    let calls = tg.calls("sendMessage");
    let refused = calls
        .iter()
        .position(|c| c.status == 429)
        .expect("a 429 was answered");
    let next = &calls[refused + 1];
    assert_eq!(next.status, 200);
    assert!(
        next.at - calls[refused].at >= Duration::from_secs(2),
        "retried after {:?}",
        next.at - calls[refused].at
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answers = tg
        .bot_messages(7)
        .into_iter()
        .filter(|m| m.reply_to == Some(id))
        .count();
    assert_eq!(answers, 1, "delivered once");
}

#[tokio::test]
async fn telegram_attachments_land_in_the_agents_inbox_under_the_limit() {
    let mock = MockLlm::start().await;
    let tg = FakeTelegram::start(TELEGRAM_TOKEN).await;
    let mesh = telegram_mesh(&mock, &tg, "    max_attachment_mb: 1\n").await;
    pair_telegram(&mesh, &tg, 9, "carol").await;

    mock.push_for(MODEL_NAME, Turn::text("Got your notes."));
    let id = tg.user_sends_file(9, "carol", "notes.txt", b"remember the milk", "my notes");
    telegram_answer(&tg, 9, id, "Got your notes.").await;
    let saved = mesh.agent_data("alpha").join("workspace/inbox/notes.txt");
    assert_eq!(std::fs::read(&saved).unwrap(), b"remember the milk");
    let prompt = mock.requests_for(MODEL_NAME)[0].last_user_text();
    assert!(
        prompt.contains("my notes")
            && prompt.contains("saved in your workspace as inbox/notes.txt"),
        "{prompt}"
    );

    // Over the limit: refused before downloading, and said so.
    let n = tg.bot_messages(9).len();
    let big = vec![b'x'; 2 * 1024 * 1024];
    tg.user_sends_file(9, "carol", "big.bin", &big, "");
    let sent = tg.wait_for_bot_messages(9, n + 1).await;
    assert_eq!(
        sent[n].text,
        "big.bin was not passed on: it is over the limit of 1 MiB"
    );
    assert!(
        !mesh
            .agent_data("alpha")
            .join("workspace/inbox/big.bin")
            .exists()
    );
    assert!(
        tg.calls("getFile").len() == 1,
        "the big file was never fetched"
    );
}

#[tokio::test]
async fn telegram_a_killed_mesh_answers_no_message_twice() {
    let mock = MockLlm::start().await;
    let tg = FakeTelegram::start(TELEGRAM_TOKEN).await;
    let mut mesh = telegram_mesh(&mock, &tg, "").await;
    pair_telegram(&mesh, &tg, 5, "dave").await;

    mock.push_for(MODEL_NAME, Turn::text("One."));
    let one = tg.user_says(5, "dave", "one");
    telegram_answer(&tg, 5, one, "One.").await;

    // Killed while a turn runs (the model takes its time), with another message waiting
    // unread on the platform.
    mock.push_for(
        MODEL_NAME,
        Turn::text("Too late.").delayed(Duration::from_secs(30)),
    );
    let two = tg.user_says(5, "dave", "two");
    let asked = mock.requests_for(MODEL_NAME).len();
    while mock.requests_for(MODEL_NAME).len() == asked {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    mesh.kill9();
    let three = tg.user_says(5, "dave", "three");

    // The turn runs again after the restart (the lane keeps it), then the waiting message.
    mock.push_for(MODEL_NAME, Turn::text("Two, again."));
    mock.push_for(MODEL_NAME, Turn::text("Three."));
    mesh.restart().await;
    telegram_answer(&tg, 5, two, "Two, again.").await;
    telegram_answer(&tg, 5, three, "Three.").await;
    tg.wait_confirmed().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = tg.bot_messages(5);
    for id in [one, two, three] {
        let answers = sent.iter().filter(|m| m.reply_to == Some(id)).count();
        assert_eq!(
            answers, 1,
            "message {id} answered {answers} times: {sent:#?}"
        );
    }
    let prompts: Vec<String> = mock
        .requests_for(MODEL_NAME)
        .iter()
        .map(|r| r.last_user_text())
        .collect();
    assert_eq!(
        prompts.iter().filter(|p| p.contains("\nthree\n")).count(),
        1,
        "{prompts:#?}"
    );
    assert_eq!(prompts.iter().filter(|p| p.contains("\none\n")).count(), 1);
}

#[tokio::test]
async fn discord_pairs_chats_splits_waits_out_429_and_resumes_the_gateway() {
    let mock = MockLlm::start().await;
    let dc = FakeDiscord::start(DISCORD_TOKEN).await;
    let mut mesh = discord_mesh(&mock, &dc).await;
    dc.wait_connected().await;
    assert_eq!(dc.identifies(), 1);

    // Pairing.
    dc.user_says("dm-1", "4242", "erin", "hello");
    let sent = dc.wait_for_bot_messages("dm-1", 1).await;
    let code = code_in(&sent[0].content);
    assert!(mock.requests_for(MODEL_NAME).is_empty());
    cli_ok(&mesh, &["channel", "pair", &code]).await;
    dc.wait_for_bot_messages("dm-1", 2).await;
    assert!(
        cli_ok(&mesh, &["channel", "users"])
            .await
            .contains("discord:4242\terin")
    );

    // A long answer, within Discord's 2,000 characters a message; a 429 on the way.
    let long: String = (0..60)
        .map(|i| {
            format!(
                "Line {i:02}: {}\n",
                "a fairly long line of text ".repeat(3).trim_end()
            )
        })
        .collect();
    dc.fail_next("create_message", 1, 429, 1.5);
    mock.push_for(MODEL_NAME, Turn::text(&long).with_chunks(20));
    let id = dc.user_says("dm-1", "4242", "erin", "@beta tell me everything");
    let parts = dc
        .wait_until("dm-1", "the whole long answer", |sent| {
            sent.iter().any(|m| m.content.contains("Line 59"))
                && !sent.iter().any(|m| m.content.ends_with(" …"))
        })
        .await;
    let first = parts
        .iter()
        .position(|m| m.reply_to.as_deref() == Some(id.as_str()))
        .unwrap();
    let answer: Vec<&str> = parts[first..].iter().map(|m| m.content.as_str()).collect();
    assert!(answer.len() >= 3, "{answer:#?}");
    assert!(answer[0].starts_with("[beta] Line 00"));
    assert!(answer.iter().all(|p| p.chars().count() <= 2000));
    assert_eq!(
        answer
            .join("\n")
            .lines()
            .filter(|l| l.contains("Line "))
            .count(),
        60
    );
    assert!(dc.calls("create_message").contains(&429));
    assert_eq!(asked_by(&mock.requests_for(MODEL_NAME)[0]), "beta");

    // The socket drops; what is said meanwhile comes with the resumed session.
    dc.drop_connection();
    mock.push_for(MODEL_NAME, Turn::text("Back again."));
    let during = dc.user_says("dm-1", "4242", "erin", "are you there?");
    let sent = dc
        .wait_until("dm-1", "the answer after the resume", |sent| {
            sent.iter().any(|m| m.content == "[beta] Back again.")
        })
        .await;
    assert!(dc.resumes() >= 1, "resumed");
    assert_eq!(dc.identifies(), 1, "no new session");
    assert_eq!(
        sent.iter()
            .filter(|m| m.reply_to.as_deref() == Some(during.as_str()))
            .count(),
        1
    );

    // The mesh is killed; a restart resumes the stored session and answers the message
    // sent while it was down, once, and nothing before it again.
    let before = dc.bot_messages("dm-1").len();
    mesh.kill9();
    mock.push_for(MODEL_NAME, Turn::text("Restarted."));
    let down = dc.user_says("dm-1", "4242", "erin", "hello after the crash");
    mesh.restart().await;
    let sent = dc
        .wait_until("dm-1", "the answer after the restart", |sent| {
            sent.iter().any(|m| m.content == "[beta] Restarted.")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(dc.bot_messages("dm-1").len(), before + 1, "{sent:#?}");
    assert_eq!(
        sent.last().unwrap().reply_to.as_deref(),
        Some(down.as_str())
    );
    assert_eq!(dc.identifies(), 1, "the restarted mesh resumed the session");
    assert_eq!(mock.requests_for(MODEL_NAME).len(), 3);
}

#[test]
fn an_enabled_channel_without_its_token_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir(&config).unwrap();
    std::fs::write(
        config.join("mesh.yaml"),
        "mesh:\n  port: 0\nchannels:\n  telegram:\n    enabled: true\n",
    )
    .unwrap();
    let err = start_refuses(&config);
    assert!(err.contains("OPENLEGION_CRED_TELEGRAM_BOT_TOKEN"), "{err}");
    std::fs::write(
        config.join("mesh.yaml"),
        "mesh:\n  port: 0\nchannels:\n  discord:\n    enabled: true\n    token: abc\n",
    )
    .unwrap();
    let err = start_refuses(&config);
    assert!(
        err.contains("channels.discord.token") && err.contains("OPENLEGION_CRED_DISCORD_BOT_TOKEN"),
        "{err}"
    );
}
