// Starts the vendored swagger-ui on /api/docs (ours, not part of swagger-ui-dist).
// A static file rather than an inline script, so the page's CSP can forbid inline code.
(function () {
  "use strict";
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.getAttribute("data-spec-url"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    tryItOutEnabled: false,
    validatorUrl: null, // never ask a validator on another site
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
