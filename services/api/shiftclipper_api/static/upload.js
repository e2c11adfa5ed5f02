// One video upload (PUT /jobs/{id}/video, streamed by the gateway into S3) that can be aborted and
// started again from scratch: the gateway accepts a new upload while the job is created/uploading/uploaded.
import { ApiError, jobPath, session } from "./util.js";

const RATE_WINDOW_MS = 5000; // the ETA uses recent throughput, not the average since the start

export class Upload {
  constructor(jobId, file, onProgress) {
    Object.assign(this, { jobId, file, onProgress, xhr: null, aborted: false });
  }

  start() {
    this.aborted = false;
    const samples = [];
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      this.xhr = xhr;
      xhr.open("PUT", jobPath(this.jobId, `/video?filename=${encodeURIComponent(this.file.name)}`));
      xhr.setRequestHeader("X-API-Key", session.key);
      xhr.setRequestHeader("Content-Type", this.file.type || "application/octet-stream");
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (e) => {
        if (!e.lengthComputable) return;
        const now = performance.now();
        samples.push([now, e.loaded]);
        while (samples.length > 2 && now - samples[0][0] > RATE_WINDOW_MS) samples.shift();
        const [t0, b0] = samples[0];
        const rate = now > t0 ? ((e.loaded - b0) * 1000) / (now - t0) : 0; // bytes per second
        this.onProgress(e.loaded, e.total, rate > 0 && e.loaded < e.total ? (e.total - e.loaded) / rate : null);
      });
      xhr.addEventListener("load", () =>
        xhr.status < 300 ? resolve(xhr.response) : reject(new ApiError(xhr.status, xhr.response)),
      );
      xhr.addEventListener("error", () => reject(Object.assign(new Error("the connection was lost"), { retry: true })));
      xhr.addEventListener("abort", () => reject(Object.assign(new Error("cancelled"), { retry: true, aborted: true })));
      this.onProgress(0, this.file.size, null);
      xhr.send(this.file);
    });
  }

  abort() {
    this.aborted = true;
    this.xhr?.abort();
  }
}

/** Whether trying the same upload again can help: not for a rejected video (415, 413, 422). */
export const retryable = (err) => err.retry || !err.status || err.status >= 500;
