use std::sync::Arc;
use std::time::{Duration, Instant};

use hospital_events::{
    BrokerConfig, Envelope, Event, PublishError, Publisher, QueueSpec, Subscriber, UserRegistered,
    UserTimezoneChanged,
};
use hospital_platform::token::Role;
use uuid::Uuid;

use crate::helpers::{amqp_url_via, broker_gate, delete_exchange, test_config, unique};

fn registered() -> Envelope<UserRegistered> {
    Envelope::new(UserRegistered {
        user_id: Uuid::now_v7(),
        role: Role::Patient,
        timezone: "Europe/Paris".into(),
    })
    .with_correlation_id("req-1")
}

async fn subscribe(config: &BrokerConfig, keys: &[&str]) -> Subscriber {
    let spec = QueueSpec::new(unique("queue"), keys.iter().copied()).auto_delete();
    Subscriber::connect(config, &spec).await.unwrap()
}

#[tokio::test]
async fn a_published_event_is_confirmed_and_delivered_as_sent() {
    let config = test_config("publish");
    let mut subscriber = subscribe(&config, &[UserRegistered::ROUTING_KEY]).await;
    let publisher = Publisher::new(config.clone());
    publisher.check().await.unwrap();

    let envelope = registered();
    publisher.publish_event(&envelope).await.unwrap();

    let incoming = subscriber
        .next_message(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("no message arrived");
    assert_eq!(incoming.routing_key(), "user.registered.v1");
    assert_eq!(
        incoming.message_id(),
        Some(envelope.id.to_string().as_str())
    );
    assert_eq!(incoming.message_type(), Some("user.registered"));
    assert_eq!(incoming.delivery_mode(), Some(2));
    assert_eq!(incoming.content_type(), Some("application/json"));
    assert_eq!(incoming.decode::<UserRegistered>().unwrap(), envelope);
    assert!(matches!(
        incoming.decode::<UserTimezoneChanged>(),
        Err(hospital_events::DecodeError::WrongType { .. })
    ));
    incoming.ack().await.unwrap();

    // Other routing keys do not reach this queue.
    publisher
        .publish_event(&Envelope::new(UserTimezoneChanged {
            user_id: Uuid::now_v7(),
            timezone: "UTC".into(),
        }))
        .await
        .unwrap();
    assert!(subscriber
        .next_message(Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());

    publisher.close().await;
    subscriber.delete_queue().await.unwrap();
    delete_exchange(&config.exchange).await;
}

#[tokio::test]
async fn an_unroutable_event_is_still_confirmed() {
    let config = test_config("unroutable");
    let publisher = Publisher::new(config.clone());
    publisher
        .publish("nobody.listens.v1", &Uuid::now_v7().to_string(), b"{}")
        .await
        .unwrap();
    // The channel is still fine afterwards.
    publisher.publish_event(&registered()).await.unwrap();
    publisher.close().await;
    delete_exchange(&config.exchange).await;
}

#[tokio::test]
async fn a_required_route_without_a_queue_is_an_error_until_a_queue_is_bound() {
    let config = test_config("required");
    let publisher = Publisher::new(config.clone()).requiring_route(UserRegistered::ROUTING_KEY);
    let err = publisher.publish_event(&registered()).await.unwrap_err();
    assert!(
        matches!(&err, PublishError::Unroutable { routing_key } if routing_key == UserRegistered::ROUTING_KEY),
        "{err}"
    );
    // Other routes keep the warning-only behaviour, and the channel is still fine.
    publisher
        .publish("nobody.listens.v1", &Uuid::now_v7().to_string(), b"{}")
        .await
        .unwrap();
    let mut subscriber = subscribe(&config, &[UserRegistered::ROUTING_KEY]).await;
    let sent = registered();
    publisher.publish_event(&sent).await.unwrap();
    let incoming = subscriber
        .next_message(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("no message arrived");
    assert_eq!(incoming.decode::<UserRegistered>().unwrap().id, sent.id);
    incoming.ack().await.unwrap();
    publisher.close().await;
    subscriber.delete_queue().await.unwrap();
    delete_exchange(&config.exchange).await;
}

#[tokio::test]
async fn concurrent_publishes_share_one_connection_and_all_arrive() {
    let config = test_config("concurrent");
    let mut subscriber = subscribe(&config, &["user.#"]).await;
    let publisher = Arc::new(Publisher::new(config.clone()));

    let mut sent = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let envelope = registered();
        sent.push(envelope.id);
        let publisher = publisher.clone();
        tasks.push(tokio::spawn(async move {
            publisher.publish_event(&envelope).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }

    let mut received = Vec::new();
    while received.len() < sent.len() {
        let incoming = subscriber
            .next_message(Duration::from_secs(5))
            .await
            .unwrap()
            .expect("a message is missing");
        received.push(incoming.decode::<UserRegistered>().unwrap().id);
        incoming.ack().await.unwrap();
    }
    sent.sort();
    received.sort();
    assert_eq!(received, sent);

    publisher.close().await;
    subscriber.delete_queue().await.unwrap();
    delete_exchange(&config.exchange).await;
}

#[tokio::test]
async fn an_unreachable_broker_fails_fast_and_is_reported_unready() {
    // A closed gate: nothing listens on its port.
    let gate = broker_gate().expect("a gate in front of the broker");
    let config = BrokerConfig::new(amqp_url_via(gate.port()))
        .with_exchange(unique("unreachable"))
        .with_connect_timeout(Duration::from_secs(2));
    let publisher = Publisher::new(config);

    assert!(!publisher.is_healthy().await);
    let started = Instant::now();
    let err = publisher.publish_event(&registered()).await.unwrap_err();
    assert!(matches!(err, PublishError::Connect(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_dropped_connection_is_replaced_on_the_next_publish() {
    let gate = broker_gate().expect("a gate in front of the broker");
    gate.open().await.expect("the gate opens");
    let config = test_config("reconnect").with_exchange(unique("reconnect"));
    let mut subscriber = subscribe(&config, &[UserRegistered::ROUTING_KEY]).await;
    let publisher = Publisher::new(BrokerConfig {
        url: amqp_url_via(gate.port()).into(),
        ..config.clone()
    });

    let first = registered();
    publisher.publish_event(&first).await.unwrap();
    assert!(publisher.is_healthy().await);

    gate.cut().await.expect("the gate reopens");
    // The first publish after the cut may still use the dead connection and fail; it drops
    // that connection, so the next publish reconnects and succeeds.
    let second = registered();
    if let Err(err) = publisher.publish_event(&second).await {
        assert!(!matches!(err, PublishError::Connect(_)), "{err}");
        publisher.publish_event(&second).await.unwrap();
    }

    let mut ids = Vec::new();
    while let Some(incoming) = subscriber
        .next_message(Duration::from_millis(500))
        .await
        .unwrap()
    {
        ids.push(incoming.decode::<UserRegistered>().unwrap().id);
        incoming.ack().await.unwrap();
    }
    assert!(
        ids.contains(&first.id) && ids.contains(&second.id),
        "{ids:?}"
    );

    publisher.close().await;
    gate.close().await;
    subscriber.delete_queue().await.unwrap();
    delete_exchange(&config.exchange).await;
}
