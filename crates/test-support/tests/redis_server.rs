//! The AOF Redis keeps what it acknowledged across a SIGKILL and a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use hospital_test_support::RedisServer;
use redis::AsyncCommands;

async fn connect(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn keys_survive_a_kill_and_a_restart() {
    let mut server = RedisServer::start_with_aof().expect("redis-server starts");
    assert_eq!(server.url(), format!("redis://127.0.0.1:{}", server.port()));
    let mut conn = connect(&server).await;
    for i in 0..100 {
        let _: () = conn.set(format!("key:{i}"), i).await.unwrap();
    }
    let _: () = conn.hset("hash", "field", "value").await.unwrap();
    let _: () = conn.zadd("due", "reminder-1", 1_700_000_000).await.unwrap();
    server.wait_aof_synced();

    server.kill();
    assert!(
        redis::Client::open(server.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_err(),
        "a killed server still answers"
    );

    server.restart();
    let mut conn = connect(&server).await;
    for i in 0..100 {
        let value: i64 = conn.get(format!("key:{i}")).await.unwrap();
        assert_eq!(value, i);
    }
    let field: String = conn.hget("hash", "field").await.unwrap();
    assert_eq!(field, "value");
    let due: Vec<(String, i64)> = conn.zrange_withscores("due", 0, -1).await.unwrap();
    assert_eq!(due, vec![("reminder-1".to_owned(), 1_700_000_000)]);
}

#[tokio::test]
async fn runs_with_the_production_persistence_settings() {
    let server = RedisServer::start_with_aof().expect("redis-server starts");
    let info = server.command(&["INFO", "persistence"]).unwrap();
    assert!(info.contains("aof_enabled:1"), "{info}");
    let mut conn = connect(&server).await;
    let appendfsync: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendfsync")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(appendfsync, ["appendfsync", "everysec"]);
    let save: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("save")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(save, ["save", ""]);
}

#[tokio::test]
async fn a_write_right_before_the_kill_survives_after_wait_aof_synced() {
    let mut server = RedisServer::start_with_aof().expect("redis-server starts");
    let mut conn = connect(&server).await;
    // Many small writes, so one of them is likely to meet a background fsync.
    for round in 0..3 {
        for i in 0..500 {
            let _: () = conn.set(format!("r{round}:{i}"), i).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    server.wait_aof_synced();
    server.kill();
    server.restart();
    let mut conn = connect(&server).await;
    let size: usize = redis::cmd("DBSIZE").query_async(&mut conn).await.unwrap();
    assert_eq!(size, 1500);
}

#[test]
fn drop_stops_the_server_and_removes_its_directory() {
    let server = RedisServer::start_with_aof().expect("redis-server starts");
    let dir = server.dir().to_owned();
    let port = server.port();
    assert!(
        dir.join("appendonlydir").is_dir(),
        "no AOF directory in {dir:?}"
    );
    assert_eq!(server.command(&["PING"]).unwrap(), "PONG");
    drop(server);
    assert!(!dir.exists(), "{dir:?} is still there");
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn two_servers_do_not_share_port_or_directory() {
    let a = RedisServer::start_with_aof().expect("redis-server starts");
    let b = RedisServer::start_with_aof().expect("redis-server starts");
    assert_ne!(a.port(), b.port());
    assert_ne!(a.dir(), b.dir());
    a.command(&["SET", "only-in-a", "1"]).unwrap();
    assert_eq!(b.command(&["EXISTS", "only-in-a"]).unwrap(), "0");
}
