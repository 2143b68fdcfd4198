//! The baseline: the leanest actix-web-actors broadcast server for the protocol subset the bench
//! uses, in memory, without database or accounts — the shape of actix's own chat example (one
//! hub actor owning the rooms, one actor per socket). A figure of the real server set beside
//! the baseline's says how close it comes to what the stack itself can do.
//!
//! Identity is the `?token=ID.NAME.FLAG` the bench makes up (`FLAG`: `v` votes, `m` moderates).
//! On join: `story_changed` to the newcomer, `participants_changed` to all. `vote_submitted`
//! and `next_story_requested`/`reset_requested` broadcast `story_changed` (serialized once).

use std::collections::HashMap;

use actix::prelude::*;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use actix_web_actors::ws;
use bytestring::ByteString;
use serde_json::{json, Map, Value};

#[derive(Message, Clone)]
#[rtype(result = "()")]
struct Frame(ByteString);

/// A socket's user: id, name, and whether they moderate.
type User = (i64, String, bool);

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
            .map(|(id, name, moderator)| json!({"id": id, "name": name, "permissions": [if *moderator { "moderate" } else { "vote" }]}))
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
        let Some(((user_id, name, _), _)) =
            room.members.get(&msg.conn).map(|(u, a)| (u.clone(), a))
        else {
            return;
        };
        match msg.name.as_str() {
            "vote_submitted" => {
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
    let moderator = parts.next() == Some("m");
    let socket = Socket {
        session: path.into_inner(),
        conn: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        user: (id, name, moderator),
        hub: hub.get_ref().clone(),
    };
    ws::start(socket, &req, stream)
}

/// Runs the baseline until killed; prints `baseline listening on http://ADDR`.
pub async fn serve(bind: &str) -> std::io::Result<()> {
    let hub = Hub::default().start();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(hub.clone()))
            .route("/ws/poker/{id}/", web::get().to(connect))
            .route("/ws/poker/{id}", web::get().to(connect))
    })
    .on_connect(|conn, _| {
        if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
            let _ = tcp.set_nodelay(true);
        }
    })
    .bind(bind)?;
    for addr in server.addrs() {
        println!("baseline listening on http://{addr}");
    }
    server.run().await
}
