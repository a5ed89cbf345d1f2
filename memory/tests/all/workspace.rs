//! The workspace index: BM25 over markdown files, kept up to date by stamps, tolerant of
//! bytes that are not UTF-8 and of a damaged index directory.

use std::time::{Duration, Instant};

use openlegion_memory::WorkspaceIndex;

fn paths(hits: &[openlegion_memory::FileHit]) -> Vec<&str> {
    hits.iter().map(|h| h.path.as_str()).collect()
}

#[test]
fn finds_words_in_markdown_and_follows_edits_deletions_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, idx) = (dir.path().join("workspace"), dir.path().join("index"));
    std::fs::create_dir_all(ws.join("memory")).unwrap();
    std::fs::write(
        ws.join("USER.md"),
        "# User\nThe user likes sailing boats.\n",
    )
    .unwrap();
    std::fs::write(
        ws.join("memory/2026-01-02.md"),
        "- 10:00 met Dana about the budget\n",
    )
    .unwrap();
    std::fs::write(ws.join("notes.txt"), "sailing is not markdown").unwrap();
    let index = WorkspaceIndex::open(&ws, &idx).unwrap();
    assert_eq!(index.refresh().unwrap().indexed, 2);
    let hits = index.search("boats sail", 5).unwrap();
    assert_eq!(
        paths(&hits),
        ["USER.md"],
        "stemmed: boats/boat, sail/sailing"
    );
    assert!(hits[0].snippet.contains("sailing"), "{hits:?}");

    // Nothing changed: nothing re-indexed.
    assert_eq!(index.refresh().unwrap().indexed, 0);

    // An edit after the index was built is found after the next refresh.
    std::fs::write(
        ws.join("memory/2026-01-02.md"),
        "- 10:00 met Dana; the budget is 40k zorblax\n",
    )
    .unwrap();
    let started = Instant::now();
    let refreshed = index.refresh().unwrap();
    eprintln!("refresh of one changed file: {:?}", started.elapsed());
    assert_eq!(refreshed.indexed, 1);
    assert_eq!(
        paths(&index.search("zorblax", 5).unwrap()),
        ["memory/2026-01-02.md"]
    );

    // A deleted file leaves the index.
    std::fs::remove_file(ws.join("USER.md")).unwrap();
    assert_eq!(index.refresh().unwrap().removed, 1);
    assert!(index.search("sailing", 5).unwrap().is_empty());
    drop(index);

    // After a restart the stamps come back from the index: nothing to do.
    let index = WorkspaceIndex::open(&ws, &idx).unwrap();
    assert_eq!(index.refresh().unwrap().indexed, 0);
    assert_eq!(index.search("zorblax", 5).unwrap().len(), 1);
}

#[test]
fn non_utf8_files_stop_words_and_bad_syntax_do_not_break_search() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, idx) = (dir.path().join("workspace"), dir.path().join("index"));
    std::fs::create_dir_all(&ws).unwrap();
    let mut bytes = b"caf\xe9 latin-1 \xff\xfe broken, but the word quokka is here\n".to_vec();
    bytes.extend_from_slice(&[0x80, 0x81, b'\n']);
    std::fs::write(ws.join("latin.md"), bytes).unwrap();
    let index = WorkspaceIndex::open(&ws, &idx).unwrap();
    index.refresh().unwrap();
    let hits = index.search("quokka", 5).unwrap();
    assert_eq!(paths(&hits), ["latin.md"]);
    assert!(hits[0].snippet.contains('\u{FFFD}') || hits[0].snippet.contains("quokka"));
    assert!(!WorkspaceIndex::searchable("the and of is"));
    assert!(index.search("the and of is", 5).unwrap().is_empty());
    for odd in ["\"unclosed", "AND OR", "quokka)", "body:", "(((", "-"] {
        index.search(odd, 5).unwrap();
    }
}

#[test]
fn a_damaged_index_is_rebuilt_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, idx) = (dir.path().join("workspace"), dir.path().join("index"));
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a.md"), "wombat").unwrap();
    WorkspaceIndex::open(&ws, &idx).unwrap().refresh().unwrap();
    for entry in std::fs::read_dir(idx.join("v1")).unwrap().flatten() {
        std::fs::write(entry.path(), b"garbage").unwrap();
    }
    let index = WorkspaceIndex::open(&ws, &idx).unwrap();
    index.refresh().unwrap();
    assert_eq!(index.search("wombat", 5).unwrap().len(), 1);
}

#[test]
fn refresh_of_an_unchanged_workspace_is_cheap() {
    let dir = tempfile::tempdir().unwrap();
    let (ws, idx) = (dir.path().join("workspace"), dir.path().join("index"));
    std::fs::create_dir_all(ws.join("memory")).unwrap();
    for i in 0..300 {
        std::fs::write(
            ws.join(format!("memory/{i}.md")),
            format!("log line {i} about things"),
        )
        .unwrap();
    }
    let index = WorkspaceIndex::open(&ws, &idx).unwrap();
    let started = Instant::now();
    assert_eq!(index.refresh().unwrap().indexed, 300);
    eprintln!("first index of 300 files: {:?}", started.elapsed());
    let started = Instant::now();
    index.refresh().unwrap();
    let idle = started.elapsed();
    eprintln!("refresh of 300 unchanged files: {idle:?}");
    assert!(idle < Duration::from_millis(500), "{idle:?}");
}
