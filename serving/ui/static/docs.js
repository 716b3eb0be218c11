// Swagger UI over the gateway's own OpenAPI document. Kept in a file (not inline) so the
// page runs under a CSP without 'unsafe-inline'. validatorUrl: null stops Swagger UI from
// calling validator.swagger.io (the page must work air-gapped); authorizations typed into
// "Authorize" stay in memory (persistAuthorization is off).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    persistAuthorization: false,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
