// A service worker that makes the page cross-origin isolated where its server does not: it passes this
// folder's own requests through and adds the two headers app.py sends (COOP and COEP). onnxruntime-web
// needs an isolated page to run WASM on several threads; without it, one. main.js registers it (and reloads
// once) only when the page is not isolated already. It keeps nothing and sends nothing anywhere.
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (new URL(request.url).origin !== self.location.origin) return; // others' responses stay as they are
  if (request.cache === "only-if-cached" && request.mode !== "same-origin") return;
  event.respondWith(fetch(request).then((response) => {
    if (!response.ok && response.status !== 304) return response;
    const headers = new Headers(response.headers);
    headers.set("Cross-Origin-Opener-Policy", "same-origin");
    headers.set("Cross-Origin-Embedder-Policy", "require-corp");
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  }));
});
