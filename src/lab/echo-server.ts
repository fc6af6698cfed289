// The ECMP lab's real-server program: a TCP server that answers each line with
// "NAME: line", so the client knows which real server holds each connection.
//   node echo-server.js NAME PORT    (prints "listening" when ready)
import { createServer } from 'node:net';

const [name = 'rs', portText = '7000'] = process.argv.slice(2);
createServer((s) => {
  s.setNoDelay(true);
  let buf = '';
  s.on('data', (d) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      s.write(`${name}: ${buf.slice(0, i)}\n`);
      buf = buf.slice(i + 1);
    }
  });
  s.on('error', () => undefined);
}).listen(Number(portText), () => process.stdout.write('listening\n'));
