//! Topics: subscribe, publish, delivery into inboxes, and subscriptions at registration.

use openlegion_tests::{MeshOptions, MeshProcess};
use serde_json::json;

use crate::inbox;

#[tokio::test]
async fn publish_reaches_every_subscriber_as_an_event_message() {
    let mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "default": {"can_publish": ["*"], "can_subscribe": ["new_lead"]}
    })))
    .await;
    let (pub_, s1, s2, other) = (
        mesh.agent("publisher").await,
        mesh.agent("s1").await,
        mesh.agent("s2").await,
        mesh.agent("other").await,
    );
    s1.post("/mesh/subscribe?topic=new_lead", &json!({}))
        .await
        .expect(200);
    s2.post("/mesh/subscribe", &json!({"topic": "new_lead"}))
        .await
        .expect(200);
    s2.post("/mesh/subscribe?topic=new_lead", &json!({}))
        .await
        .expect(200); // no duplicate
    assert_eq!(
        other
            .post("/mesh/subscribe?topic=secret", &json!({}))
            .await
            .status,
        403
    );

    let sent = pub_
        .post(
            "/mesh/publish",
            &json!({"topic": "new_lead", "source": "someone-else", "payload": {"lead": 42}}),
        )
        .await
        .expect(200);
    assert_eq!(sent["subscribers_notified"], 2);
    for sub in [&s1, &s2] {
        let got = inbox(sub).await;
        assert_eq!(got.len(), 1, "exactly one copy");
        assert_eq!(got[0]["type"], "event");
        assert_eq!(got[0]["from_agent"], "mesh");
        assert_eq!(got[0]["payload"]["topic"], "new_lead");
        assert_eq!(
            got[0]["payload"]["source"], "publisher",
            "the mesh sets the source"
        );
        assert_eq!(got[0]["payload"]["payload"], json!({"lead": 42}));
        assert_eq!(got[0]["payload"]["id"], sent["event_id"]);
    }
    assert!(inbox(&other).await.is_empty());

    // Exact names only: a subscription to new_lead does not hear new_lead_2.
    pub_.post("/mesh/publish", &json!({"topic": "new_lead_2"}))
        .await
        .expect(200);
    assert_eq!(inbox(&s1).await.len(), 1);

    s1.post("/mesh/unsubscribe?topic=new_lead", &json!({}))
        .await
        .expect(200);
    let sent = pub_
        .post("/mesh/publish", &json!({"topic": "new_lead"}))
        .await
        .expect(200);
    assert_eq!(sent["subscribers_notified"], 1);
}

#[tokio::test]
async fn registration_subscribes_to_configured_topics() {
    let mesh = MeshProcess::start(MeshOptions::with_permissions(json!({
        "research": {"can_subscribe": ["new_lead", "*"]},
        "boss": {"can_publish": ["new_lead"]}
    })))
    .await;
    let research = mesh.agent("research").await;
    let boss = mesh.agent("boss").await;
    assert_eq!(
        boss.post("/mesh/publish", &json!({"topic": "new_lead"}))
            .await
            .expect(200)["subscribers_notified"],
        0
    );
    research
        .post("/mesh/register", &json!({"capabilities": ["research"]}))
        .await
        .expect(200);
    assert_eq!(
        boss.post("/mesh/publish", &json!({"topic": "new_lead"}))
            .await
            .expect(200)["subscribers_notified"],
        1
    );
    // Subscriptions persist across a restart.
    let mut mesh = mesh;
    mesh.kill9();
    mesh.restart().await;
    let boss = openlegion_tests::Client::new(mesh.url(), boss.token());
    assert_eq!(
        boss.post("/mesh/publish", &json!({"topic": "new_lead"}))
            .await
            .expect(200)["subscribers_notified"],
        1
    );
}

#[tokio::test]
async fn full_inboxes_are_reported_not_silently_skipped() {
    let mesh = MeshProcess::start(MeshOptions {
        mesh_settings: "  inbox_max: 1\n".into(),
        ..MeshOptions::with_permissions(
            json!({"default": {"can_publish": ["t"], "can_subscribe": ["t"]}}),
        )
    })
    .await;
    let (p, s) = (mesh.agent("p").await, mesh.agent("s").await);
    s.post("/mesh/subscribe?topic=t", &json!({}))
        .await
        .expect(200);
    assert_eq!(
        p.post("/mesh/publish", &json!({"topic": "t"}))
            .await
            .expect(200)["subscribers_notified"],
        1
    );
    let second = p
        .post("/mesh/publish", &json!({"topic": "t"}))
        .await
        .expect(200);
    assert_eq!(second["subscribers_notified"], 0);
    assert_eq!(second["undelivered"], json!(["s"]));
}
