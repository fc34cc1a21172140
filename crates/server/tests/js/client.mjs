// A real socket.io-client for the API tests: connects to the server, signs in, and prints
// every event it hears as one JSON line on stdout ({"event", "data"}), then "disconnect".
//
//   node client.mjs URL TOKEN MODE [TRANSPORT]
//   MODE: handshake (token in the handshake's auth), emit (seed 001: emit 'authenticate'),
//         none (never signs in). TRANSPORT: websocket (default) or polling.
// It exits when the server closes the connection, or when its standard input closes.
import { io } from "socket.io-client";

const [url, token, mode, transport = "websocket"] = process.argv.slice(2);
const out = (event, data) => process.stdout.write(JSON.stringify({ event, data }) + "\n");

const socket = io(url, {
  transports: [transport],
  reconnection: false,
  auth: mode === "handshake" ? { token } : {},
});
socket.on("connect", () => {
  out("connect", { id: socket.id });
  if (mode === "emit") socket.emit("authenticate", { token });
});
socket.on("connect_error", (e) => out("connect_error", { message: e.message }));
socket.on("disconnect", (reason) => {
  out("disconnect", { reason });
  process.exit(0);
});
socket.onAny((event, data) => out(event, data));
process.stdin.on("end", () => {
  socket.close();
  process.exit(0);
});
process.stdin.resume();
