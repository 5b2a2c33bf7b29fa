// Uploads a file to a Kino node with tus-js-client (a standard tus client the project did not write).
// Usage: node tus-upload.mjs ENDPOINT FILE [--abort-at FRACTION] [--resume-url URL] [--token T]
// Prints one JSON line: {"url": ..., "offset": ..., "done": bool}.
import * as tus from "tus-js-client";
import fs from "node:fs";

const [endpoint, file, ...rest] = process.argv.slice(2);
const opt = (name) => { const i = rest.indexOf(name); return i >= 0 ? rest[i + 1] : undefined; };
const abortAt = opt("--abort-at") ? Number(opt("--abort-at")) : undefined;
const resumeUrl = opt("--resume-url");
const token = opt("--token");
const size = fs.statSync(file).size;

const upload = new tus.Upload(fs.createReadStream(file), {
  endpoint,
  uploadUrl: resumeUrl,
  uploadSize: size,
  chunkSize: 4 * 1024 * 1024,
  retryDelays: [0, 200, 500],
  metadata: { filename: file.split("/").pop(), filetype: "video/mp4" },
  headers: token ? { Authorization: `Bearer ${token}` } : {},
  onProgress(sent) {
    if (abortAt !== undefined && sent >= size * abortAt) {
      upload.abort(false).then(() => {
        console.log(JSON.stringify({ url: upload.url, offset: sent, done: false }));
        process.exit(0);
      });
    }
  },
  onError(err) {
    console.error(String(err));
    process.exit(1);
  },
  onSuccess() {
    console.log(JSON.stringify({ url: upload.url, offset: size, done: true }));
    process.exit(0);
  },
});
upload.start();
