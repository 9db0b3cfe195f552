use std::time::Duration;

use hospital_events::{Envelope, Publisher, QueueSpec, Subscriber, UserTimezoneChanged};
use uuid::Uuid;

use crate::helpers::{delete_exchange, test_config, unique};

#[tokio::test]
async fn a_nacked_message_comes_back_redelivered_and_an_acked_one_does_not() {
    let config = test_config("nack");
    let spec = QueueSpec::for_event::<UserTimezoneChanged>(&unique("svc")).auto_delete();
    assert!(spec.name.ends_with(".user.timezone_changed"));
    let mut subscriber = Subscriber::connect(&config, &spec).await.unwrap();
    let publisher = Publisher::new(config.clone());
    let envelope = Envelope::new(UserTimezoneChanged {
        user_id: Uuid::now_v7(),
        timezone: "Pacific/Auckland".into(),
    });
    publisher.publish_event(&envelope).await.unwrap();

    let first = subscriber
        .next_message(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("no message");
    assert!(!first.redelivered());
    first.nack(true).await.unwrap();

    let again = subscriber
        .next_message(Duration::from_secs(5))
        .await
        .unwrap()
        .expect("not redelivered");
    assert!(again.redelivered());
    assert_eq!(
        again.decode::<UserTimezoneChanged>().unwrap().id,
        envelope.id
    );
    assert_eq!(
        again.decode_raw().unwrap().type_key(),
        "user.timezone_changed.v1"
    );
    again.ack().await.unwrap();

    assert!(subscriber
        .next_message(Duration::from_millis(300))
        .await
        .unwrap()
        .is_none());

    publisher.close().await;
    assert_eq!(subscriber.delete_queue().await.unwrap(), 0);
    delete_exchange(&config.exchange).await;
}
