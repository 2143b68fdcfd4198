// Loaded first, as a classic script, on every page: collects what went wrong in the page
// (uncaught errors, rejected promises nobody handled, Content-Security-Policy violations) in
// `window.__errors`, so a person (devtools) or a test can see it.
"use strict";
window.__errors = [];
window.addEventListener("error", (event) => {
  // Resource load failures arrive here too (capture phase), with the element as target.
  const target = event.target;
  if (target && target !== window && (target.src || target.href)) {
    window.__errors.push(`failed to load ${target.src || target.href}`);
    return;
  }
  window.__errors.push(`${event.message} (${event.filename}:${event.lineno})`);
}, true);
window.addEventListener("unhandledrejection", (event) => {
  const reason = event.reason;
  window.__errors.push(`unhandled rejection: ${reason && reason.stack ? reason.stack : reason}`);
});
document.addEventListener("securitypolicyviolation", (event) => {
  window.__errors.push(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
