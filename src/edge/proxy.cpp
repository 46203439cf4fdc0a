// ClientConn's proxying half: relaying a request body to the sandbox and its answer to
// the client in the edge's framing, ending an exchange (pool or close the backend
// connection), and tunnels after an upgrade. (client_conn.cpp has the rest.)
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>

#include "worker.h"

namespace sandboxd::edge {

bool ClientConn::pump() {
  bool moved = false;
  if (!req_done_ && up_->pending() < kHighWater) moved |= feed_request();
  if (phase_ != Phase::kProxy || closed_) return true;
  if (up_->pending() > 0 && up_->writable) moved |= flush_upstream();
  if (phase_ != Phase::kProxy || closed_) return true;
  if (!resp_done_ && pending_out() < kHighWater && up_->readable) moved |= read_response();
  if (phase_ != Phase::kProxy || closed_) return true;
  // The sandbox has answered: its place is free before the client sees the answer.
  if (resp_done_) release_slot();
  if (pending_out() > 0 && wr_) moved |= flush_client();
  if (closed_) return false;
  if (resp_done_ && pending_out() == 0) {
    finish_exchange();
    return true;
  }
  if (moved) {
    last_progress_ = SteadyClock::now();
    w_.note_activity(target_.id, last_progress_);  // a long stream (SSE) keeps its sandbox up
  }
  return moved;
}

bool ClientConn::feed_request() {
  std::string_view src;
  bool from_socket = false;
  if (!in_.empty()) {
    src = in_;
  } else {
    if (!rd_) return false;
    ssize_t n = read_client();
    if (would_block(n)) {
      rd_ = false;
      return false;
    }
    if (n <= 0) {  // the client left in the middle of its body
      close_now();
      return false;
    }
    src = std::string_view(w_.scratch.data(), static_cast<std::size_t>(n));
    from_socket = true;
  }
  std::size_t used = 0;
  if (req_.body.kind == http1::BodyKind::kLength) {
    used = static_cast<std::size_t>(std::min<uint64_t>(req_left_, src.size()));
    up_->out.append(src.substr(0, used));
    req_left_ -= used;
    req_done_ = req_left_ == 0;
  } else {
    while (used < src.size() && !req_chunks_.done()) {
      auto step = req_chunks_.next(src.substr(used));
      if (step.bad) {
        s_.log("bad_request", spdlog::level::info,
               [&] { return fmt::format("edge: 400 from {}: invalid chunked body", peer_.text); });
        if (!resp_head_done_) {
          reply(400, "invalid chunked request body", false);
        } else {
          close_now();
        }
        return true;
      }
      http1::append_chunk(up_->out, step.data);
      used += step.consumed;
    }
    if (req_chunks_.done()) {
      up_->out += http1::kLastChunk;
      req_done_ = true;
    }
  }
  if (from_socket) {
    in_.append(src.substr(used));  // the start of a pipelined next request
  } else {
    in_.erase(0, used);
  }
  return true;
}

bool ClientConn::flush_upstream() {
  while (up_->pending() > 0) {
    ssize_t n = ::send(up_->fd, up_->out.data() + up_->out_off, up_->pending(), MSG_NOSIGNAL);
    if (n > 0) {
      up_->out_off += static_cast<std::size_t>(n);
      continue;
    }
    if (would_block(n)) {
      up_->writable = false;
      return false;
    }
    if (phase_ == Phase::kTunnel) {
      close_now();
    } else {
      upstream_ended(true);
    }
    return true;
  }
  up_->out.clear();
  up_->out_off = 0;
  return true;
}

bool ClientConn::flush_client() {
  while (pending_out() > 0) {
    ssize_t n = ::send(fd_, out_.data() + out_off_, pending_out(), MSG_NOSIGNAL);
    if (n > 0) {
      out_off_ += static_cast<std::size_t>(n);
      continue;
    }
    if (would_block(n)) {
      wr_ = false;
      return false;
    }
    close_now();  // the client is gone
    return false;
  }
  out_.clear();
  out_off_ = 0;
  return true;
}

// Reads into the worker's buffer. A read that did not fill it drained the socket: with
// edge-triggered epoll, the next bytes bring a new event, so no read is spent to see
// EAGAIN (unless the peer closed: its EOF must still be read).
ssize_t ClientConn::read_client() {
  ssize_t n = ::recv(fd_, w_.scratch.data(), w_.scratch.size(), 0);
  if (n > 0 && static_cast<std::size_t>(n) < w_.scratch.size() && !peer_closed_) rd_ = false;
  return n;
}

ssize_t ClientConn::read_upstream() {
  ssize_t n = ::recv(up_->fd, w_.scratch.data(), w_.scratch.size(), 0);
  if (n > 0 && static_cast<std::size_t>(n) < w_.scratch.size() && !up_->peer_closed)
    up_->readable = false;
  return n;
}

bool ClientConn::read_response() {
  ssize_t n = read_upstream();
  if (would_block(n)) {
    up_->readable = false;
    return false;
  }
  if (n <= 0) {
    upstream_ended(n < 0);
    return true;
  }
  return on_response_bytes(std::string_view(w_.scratch.data(), static_cast<std::size_t>(n)));
}

bool ClientConn::on_response_bytes(std::string_view data) {
  if (resp_head_done_) {
    consume_body(data);
    return true;
  }
  std::string_view buf = data;
  if (!resp_buf_.empty()) {
    resp_buf_.append(data);
    buf = resp_buf_;
  }
  for (;;) {
    http1::Verdict v = http1::parse_response(buf, req_.method(), resp_);
    if (v.kind == http1::Verdict::kIncomplete) {
      if (buf.data() != resp_buf_.data()) resp_buf_ = std::string(buf);
      return true;
    }
    if (v.kind == http1::Verdict::kBad) {
      upstream_failed(v.reason);
      return true;
    }
    std::string_view rest = buf.substr(v.head_len);
    if (resp_.status < 200 && resp_.status != 101) {
      // Interim answers (100, 102, 103) go on to HTTP/1.1 clients; the final one follows.
      if (req_.minor == 1) http1::append_client_head(resp_, {}, out_);
      buf = rest;
      if (buf.empty()) {
        resp_buf_.clear();
        return true;
      }
      continue;
    }
    if (resp_.status == 101) {
      if (!req_.upgrade) {
        upstream_failed("101 Switching Protocols without an Upgrade request");
        return true;
      }
      w_.counters.response(Counters::kSandbox, resp_.status);
      http1::append_client_head(resp_, {}, out_);
      out_.append(rest);
      resp_buf_.clear();
      phase_ = Phase::kTunnel;
      up_eof_ = false;
      return true;
    }
    w_.counters.response(Counters::kSandbox, resp_.status);
    framing_ = http1::client_framing(req_, resp_);
    if (!req_done_ || client_eof_ || s_.stopping.load(std::memory_order_relaxed))
      framing_.keep_alive = false;
    http1::append_client_head(resp_, framing_, out_);
    resp_head_done_ = true;
    resp_left_ = resp_.body.length;
    resp_done_ = resp_.body.kind == http1::BodyKind::kNone;
    if (resp_buf_.empty()) {
      consume_body(rest);
    } else {
      std::string owned(rest);  // `rest` points into resp_buf_
      resp_buf_.clear();
      consume_body(owned);
    }
    return true;
  }
}

void ClientConn::consume_body(std::string_view data) {
  using http1::BodyKind;
  switch (resp_.body.kind) {
    case BodyKind::kNone:
      if (!data.empty()) up_reusable_ = false;  // bytes nobody asked for
      return;
    case BodyKind::kUntilClose: out_.append(data); return;
    case BodyKind::kLength: {
      std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(resp_left_, data.size()));
      out_.append(data.substr(0, take));
      resp_left_ -= take;
      if (take < data.size()) up_reusable_ = false;
      resp_done_ = resp_left_ == 0;
      return;
    }
    case BodyKind::kChunked: {
      std::size_t used = 0;
      while (used < data.size() && !resp_chunks_.done()) {
        auto step = resp_chunks_.next(data.substr(used));
        if (step.bad) {
          s_.log("bad_response", spdlog::level::warn, [&] {
            return fmt::format("preview {}:{}: invalid chunked response body; connection closed",
                               target_.id, target_.port);
          });
          close_now();
          return;
        }
        if (framing_.chunked) {
          http1::append_chunk(out_, step.data);
        } else {
          out_.append(step.data);
        }
        used += step.consumed;
      }
      if (resp_chunks_.done()) {
        if (framing_.chunked) out_ += http1::kLastChunk;
        resp_done_ = true;
        if (used < data.size()) up_reusable_ = false;
      }
      return;
    }
  }
}

void ClientConn::upstream_ended(bool reset) {
  if (resp_head_done_) {
    if (resp_.body.kind == http1::BodyKind::kUntilClose && !reset) {
      resp_done_ = true;
      up_reusable_ = false;
      return;
    }
    close_now();  // a body cut short: the client must see the connection end
    return;
  }
  // A pooled connection the app closed just as it was reused: try once more on a new
  // one when the request can be sent again (no body, nothing answered yet).
  if (reused_ && !retried_ && resp_buf_.empty() && req_.body.kind == http1::BodyKind::kNone &&
      pending_out() == 0) {
    retried_ = true;
    drop_upstream();
    open_upstream(true);
    return;
  }
  upstream_failed("the sandbox closed the connection without an answer");
}

void ClientConn::upstream_failed(const char* what) {
  s_.log("bad_gateway", spdlog::level::warn, [&] {
    return fmt::format("preview {}:{}: {} (request {})", target_.id, target_.port, what,
                       request_id());
  });
  drop_upstream();
  if (resp_head_done_) return close_now();
  reply(502, std::string("bad answer from the sandbox: ") + what, req_done_);
}

void ClientConn::finish_exchange() {
  release_slot();
  if (up_) {
    up_->owner = nullptr;
    // Reused only when nothing more came from it: an EOF or stray bytes seen after the
    // answer (their event is spent) would otherwise meet the next request.
    if (up_reusable_ && resp_.keep_alive && req_done_ && up_->pending() == 0 && !up_->readable &&
        !up_->peer_closed) {
      w_.pool.put(up_);
    } else {
      w_.pool.close(up_);
    }
    up_ = nullptr;
  }
  if (framing_.keep_alive) return next_request();
  begin_linger();
}

bool ClientConn::tunnel() {
  bool moved = false;
  // client -> sandbox
  if (!in_.empty()) {
    up_->out.append(in_);
    in_.clear();
  }
  while (!client_eof_ && rd_ && up_->pending() < kHighWater) {
    ssize_t n = read_client();
    if (would_block(n)) {
      rd_ = false;
      break;
    }
    if (n < 0) return close_now(), false;
    if (n == 0) {
      client_eof_ = true;
      break;
    }
    up_->out.append(w_.scratch.data(), static_cast<std::size_t>(n));
    moved = true;
  }
  if (up_->pending() > 0 && up_->writable) {
    flush_upstream();
    if (closed_) return false;
    moved = true;
  }
  if (phase_ != Phase::kTunnel) return true;
  if (client_eof_ && up_->pending() == 0) ::shutdown(up_->fd, SHUT_WR);
  // sandbox -> client
  while (!up_eof_ && up_->readable && pending_out() < kHighWater) {
    ssize_t n = read_upstream();
    if (would_block(n)) {
      up_->readable = false;
      break;
    }
    if (n < 0) return close_now(), false;
    if (n == 0) {
      up_eof_ = true;
      break;
    }
    out_.append(w_.scratch.data(), static_cast<std::size_t>(n));
    moved = true;
  }
  if (pending_out() > 0 && wr_) {
    flush_client();
    if (closed_) return false;
    moved = true;
  }
  if (up_eof_ && pending_out() == 0) {
    if (client_eof_ && up_->pending() == 0) return close_now(), false;
    ::shutdown(fd_, SHUT_WR);
  }
  if (moved) {
    last_progress_ = SteadyClock::now();
    w_.note_activity(target_.id, last_progress_);
  }
  return moved;
}

}  // namespace sandboxd::edge
