// Starts Swagger UI on /api/docs. A file, not an inline script: the app's CSP allows scripts from 'self' only.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = window.SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
  });
});
