import { connect } from 'node:net';

/** Sends raw bytes to the server at `url` and reads until it closes the connection (or 5 s pass). */
export function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(request));
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => { got += d; });
    socket.on('close', () => resolve(got));
    socket.on('error', reject);
    socket.setTimeout(5000, () => { socket.destroy(); resolve(got); });
  });
}
