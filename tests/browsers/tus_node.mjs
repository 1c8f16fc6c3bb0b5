// tus-js-client under Node (tests/clients/test_tus_node.py): one upload described by a JSON plan file,
// one JSON line per event on stdout: {"url"} when the upload exists, {"offset"} after each
// chunk, {"success"} or {"error", "status", "body"}. With "store", upload URLs are kept in a
// FileUrlStorage and a new process resumes a previous upload of the same file (the library's
// findPreviousUploads / resumeFromPreviousUpload), as an app restarted after a crash would.
import fs from "node:fs";
import { FileUrlStorage, Upload } from "tus-js-client";

const plan = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");

const options = {
  endpoint: plan.endpoint,
  chunkSize: plan.chunkSize || Infinity,
  headers: plan.headers || {},
  metadata: { filename: "node.bin", filetype: "application/octet-stream" },
  retryDelays: plan.retryDelays || [],
  uploadUrl: plan.uploadUrl || null,
  removeFingerprintOnSuccess: true,
  onUploadUrlAvailable() {
    say({ url: upload.url });
  },
  onChunkComplete(_size, accepted) {
    say({ offset: accepted });
  },
  onSuccess() {
    say({ success: true, url: upload.url });
  },
  onError(error) {
    const response = error.originalResponse;
    say({
      error: String(error.message || error),
      status: response ? response.getStatus() : null,
      body: response ? response.getBody() : null,
    });
    process.exitCode = 1;
  },
};
if (plan.store) {
  options.urlStorage = new FileUrlStorage(plan.store);
  options.storeFingerprintForResuming = true;
}
const upload = new Upload(fs.createReadStream(plan.file), options);
if (plan.store) {
  const previous = await upload.findPreviousUploads();
  if (previous.length) {
    say({ resuming: previous[0].uploadUrl });
    upload.resumeFromPreviousUpload(previous[0]);
  }
}
upload.start();
