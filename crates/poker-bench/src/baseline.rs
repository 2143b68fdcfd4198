//! The baseline: the leanest actix-web-actors broadcast server for the protocol subset the bench
//! uses, in memory, without database or accounts — the shape of actix's own chat example (one
//! hub actor owning the rooms, one actor per socket). A figure of the real server set beside
//! the baseline's says how close it comes to what the stack itself can do.
//!
//! Identity is the `?token=ID.NAME.FLAGS` the bench makes up (`FLAGS`: `v` votes, `m`
//! moderates, `mv` both: a moderator who estimates too). Like any broadcast server it takes a
//! vote from every member, so a voting moderator costs it what it costs the real server.
//! On join: `story_changed` to the newcomer, `participants_changed` to all. `vote_submitted`
//! and `next_story_requested`/`reset_requested` broadcast `story_changed` (serialized once).
//! `GET /api/sessions/{id}` answers a live session's state from memory (the REST-under-load
//! counterpart of the real server's endpoint; no accounts, so no authentication).

use std::collections::HashMap;

use actix::prelude::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use actix_web_actors::ws;
use bytestring::ByteString;
use serde_json::{json, Map, Value};

#[derive(Message, Clone)]
#[rtype(result = "()")]
struct Frame(ByteString);

/// A socket's user: id, name, and its rights.
type User = (i64, String, Rights);

/// What a member may do (the bench's token says).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Rights {
    vote: bool,
    moderate: bool,
}

impl Rights {
    fn parse(flags: &str) -> Rights {
        let moderate = flags.contains('m');
        Rights {
            moderate,
            // `m` alone is a moderator who does not vote (older tokens: `v` or `m`).
            vote: flags.contains('v') || !moderate,
        }
    }

    fn permissions(self) -> Vec<&'static str> {
        let mut p = Vec::new();
        if self.vote {
            p.push("vote");
        }
        if self.moderate {
            p.push("moderate");
        }
        p
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct Join {
    session: i64,
    conn: u64,
    user: User,
    addr: Recipient<Frame>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Leave {
    session: i64,
    conn: u64,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Event {
    session: i64,
    conn: u64,
    name: String,
    data: Value,
}

/// A live session's state as JSON (`None`: nobody is in it).
#[derive(Message)]
#[rtype(result = "Option<String>")]
struct State {
    session: i64,
}

#[derive(Default)]
struct Room {
    members: HashMap<u64, (User, Recipient<Frame>)>,
    /// (user id, name, choice) in the order first cast.
    votes: Vec<(i64, String, String)>,
}

impl Room {
    fn story_frame(&self) -> ByteString {
        let mut groups: Vec<(&str, Vec<Value>)> = Vec::new();
        for (id, name, choice) in &self.votes {
            let voter = json!({"id": id, "name": name});
            match groups.iter_mut().find(|(c, _)| *c == choice) {
                Some((_, v)) => v.push(voter),
                None => groups.push((choice, vec![voter])),
            }
        }
        groups.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
        let mut votes = Map::new();
        for (choice, voters) in groups {
            votes.insert(choice.to_string(), Value::Array(voters));
        }
        let voters: Vec<Value> = self
            .votes
            .iter()
            .map(|(id, name, _)| json!({"id": id, "name": name}))
            .collect();
        let data = json!({"id": 1, "story_label": "BASELINE-1", "description": "", "votes": votes, "voters": voters});
        json!({"type": "send_json", "event": "story_changed", "data": data})
            .to_string()
            .into()
    }

    fn participants_frame(&self) -> ByteString {
        let mut users: Vec<&User> = Vec::new();
        for (user, _) in self.members.values() {
            if !users.iter().any(|u| u.0 == user.0) {
                users.push(user);
            }
        }
        users.sort_by(|a, b| a.1.cmp(&b.1));
        let list: Vec<Value> = users
            .iter()
            .map(|(id, name, rights)| json!({"id": id, "name": name, "permissions": rights.permissions()}))
            .collect();
        json!({"type": "send_json", "event": "participants_changed", "data": {"participants": list}}).to_string().into()
    }

    fn broadcast(&self, frame: ByteString) {
        for (_, addr) in self.members.values() {
            addr.do_send(Frame(frame.clone()));
        }
    }
}

/// The hub: every room of the process.
#[derive(Default)]
struct Hub {
    rooms: HashMap<i64, Room>,
}

impl Actor for Hub {
    type Context = Context<Self>;
}

impl Handler<Join> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Join, _: &mut Context<Self>) {
        let room = self.rooms.entry(msg.session).or_default();
        msg.addr.do_send(Frame(room.story_frame()));
        room.members.insert(msg.conn, (msg.user, msg.addr));
        room.broadcast(room.participants_frame());
    }
}

impl Handler<Leave> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Leave, _: &mut Context<Self>) {
        if let Some(room) = self.rooms.get_mut(&msg.session) {
            room.members.remove(&msg.conn);
            if room.members.is_empty() {
                self.rooms.remove(&msg.session);
            } else {
                room.broadcast(room.participants_frame());
            }
        }
    }
}

impl Handler<Event> for Hub {
    type Result = ();
    fn handle(&mut self, msg: Event, _: &mut Context<Self>) {
        let Some(room) = self.rooms.get_mut(&msg.session) else {
            return;
        };
        let Some(((user_id, name, rights), _)) =
            room.members.get(&msg.conn).map(|(u, a)| (u.clone(), a))
        else {
            return;
        };
        match msg.name.as_str() {
            "vote_submitted" if rights.vote => {
                let Some(choice) = msg.data.get("choice").and_then(Value::as_str) else {
                    return;
                };
                match room.votes.iter_mut().find(|(id, _, _)| *id == user_id) {
                    Some(vote) => vote.2 = choice.to_string(),
                    None => room.votes.push((user_id, name, choice.to_string())),
                }
            }
            "reset_requested" | "next_story_requested" => room.votes.clear(),
            _ => return,
        }
        room.broadcast(room.story_frame());
    }
}

impl Handler<State> for Hub {
    type Result = Option<String>;
    fn handle(&mut self, msg: State, _: &mut Context<Self>) -> Option<String> {
        let room = self.rooms.get(&msg.session)?;
        // The shape of the real server's answer: the session, its deck and its stories.
        let story = json!({
            "id": 1, "ticket_number": "BASELINE-1", "title": "", "description": "",
            "story_points": null, "poker_session_id": msg.session, "votes": room.votes.len(),
        });
        let body = json!({
            "id": msg.session, "name": format!("baseline #{}", msg.session),
            "poker_date": "2026-01-01", "active_story_id": 1, "secret_votes": false,
            "deck": {"points": [1, 2, 3, 5, 8, 13, 21, 34], "others": ["?"]},
            "stories": [story],
        });
        Some(body.to_string())
    }
}

struct Socket {
    session: i64,
    conn: u64,
    user: User,
    hub: Addr<Hub>,
}

impl Actor for Socket {
    type Context = ws::WebsocketContext<Self>;
    fn started(&mut self, ctx: &mut Self::Context) {
        self.hub.do_send(Join {
            session: self.session,
            conn: self.conn,
            user: self.user.clone(),
            addr: ctx.address().recipient(),
        });
    }
    fn stopped(&mut self, _: &mut Self::Context) {
        self.hub.do_send(Leave {
            session: self.session,
            conn: self.conn,
        });
    }
}

impl Handler<Frame> for Socket {
    type Result = ();
    fn handle(&mut self, msg: Frame, ctx: &mut Self::Context) {
        ctx.text(msg.0);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for Socket {
    fn handle(&mut self, msg: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        match msg {
            Ok(ws::Message::Text(text)) => {
                let Ok(mut value) = serde_json::from_str::<Value>(&text) else {
                    return;
                };
                let Some(name) = value
                    .get("event")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    return;
                };
                let data = value
                    .get_mut("data")
                    .map(Value::take)
                    .unwrap_or(Value::Null);
                self.hub.do_send(Event {
                    session: self.session,
                    conn: self.conn,
                    name,
                    data,
                });
            }
            Ok(ws::Message::Ping(p)) => ctx.pong(&p),
            Ok(ws::Message::Close(reason)) => {
                ctx.close(reason);
                ctx.stop();
            }
            Err(_) => ctx.stop(),
            _ => {}
        }
    }
}

async fn connect(
    req: HttpRequest,
    stream: web::Payload,
    path: web::Path<i64>,
    hub: web::Data<Addr<Hub>>,
) -> actix_web::Result<HttpResponse> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map_err(actix_web::error::ErrorBadRequest)?;
    let token = query
        .get("token")
        .ok_or_else(|| actix_web::error::ErrorUnauthorized("token"))?;
    let mut parts = token.splitn(3, '.');
    let id = parts
        .next()
        .and_then(|id| id.parse().ok())
        .ok_or_else(|| actix_web::error::ErrorUnauthorized("token"))?;
    let name = parts.next().unwrap_or("anonymous").to_string();
    let rights = Rights::parse(parts.next().unwrap_or("v"));
    let socket = Socket {
        session: path.into_inner(),
        conn: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        user: (id, name, rights),
        hub: hub.get_ref().clone(),
    };
    // Agrees to the subprotocol the bench offers the server, so one client fits both.
    ws::WsResponseBuilder::new(socket, &req, stream)
        .protocols(&[crate::client::SUBPROTOCOL])
        .start()
}

async fn session_state(
    path: web::Path<i64>,
    hub: web::Data<Addr<Hub>>,
) -> actix_web::Result<HttpResponse> {
    match hub
        .send(State {
            session: path.into_inner(),
        })
        .await
    {
        Ok(Some(body)) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body)),
        Ok(None) => Ok(HttpResponse::NotFound().finish()),
        Err(e) => Err(actix_web::error::ErrorServiceUnavailable(e)),
    }
}

/// The baseline bound to `bind`, not yet running, and its addresses.
fn bound(bind: &str) -> std::io::Result<(actix_web::dev::Server, Vec<std::net::SocketAddr>)> {
    let hub = Hub::default().start();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(hub.clone()))
            .route("/ws/poker/{id}/", web::get().to(connect))
            .route("/ws/poker/{id}", web::get().to(connect))
            .route("/api/sessions/{id}", web::get().to(session_state))
    })
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .bind(bind)?;
    let addrs = server.addrs();
    Ok((server.run(), addrs))
}

/// Runs the baseline until killed; prints `baseline listening on http://ADDR`.
pub async fn serve(bind: &str) -> std::io::Result<()> {
    let (server, addrs) = bound(bind)?;
    for addr in addrs {
        println!("baseline listening on http://{addr}");
    }
    server.await
}

/// A baseline running on a thread of this process (for tests, where the bench binary that
/// would run it as a process of its own is not built); stopped when dropped. Its memory and
/// CPU are this process's, so a run against it reports neither.
pub struct InThread {
    pub url: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InThread {
    /// Starts a baseline on a free loopback port.
    pub fn start() -> std::io::Result<InThread> {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match bound("127.0.0.1:0") {
                    Ok((server, addrs)) => {
                        let _ = tx.send(Ok((server.handle(), addrs)));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })
        });
        let (handle, addrs) = rx
            .recv()
            .map_err(|_| std::io::Error::other("the baseline thread ended before binding"))??;
        let addr = addrs
            .first()
            .ok_or_else(|| std::io::Error::other("the baseline bound no address"))?;
        Ok(InThread {
            url: format!("http://{addr}"),
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for InThread {
    fn drop(&mut self) {
        // The command is sent at once; the thread's server then returns and its system ends.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
