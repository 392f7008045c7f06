"use strict";
// Validates OpenAPI documents (Swagger 2.0 JSON or OpenAPI 3.x JSON/YAML) with
// @apidevtools/swagger-parser: the document against the specification's JSON schema, then
// its $refs and the rules the schema cannot express (unique operationIds, path parameters
// declared and used, …). Prints one line per file; exits 1 if any is invalid.
//   node validate.js FILE...
const SwaggerParser = require("@apidevtools/swagger-parser");

(async () => {
  let failed = 0;
  for (const file of process.argv.slice(2)) {
    try {
      const api = await SwaggerParser.validate(file);
      const version = api.openapi || api.swagger;
      const ops = Object.values(api.paths || {}).reduce((n, item) => n + Object.keys(item).filter((k) => k !== "parameters").length, 0);
      console.log(`VALID ${file}: ${api.openapi ? "OpenAPI" : "Swagger"} ${version}, ${Object.keys(api.paths || {}).length} paths, ${ops} operations`);
    } catch (e) {
      failed++;
      console.log(`INVALID ${file}: ${e.message}`);
    }
  }
  process.exit(failed ? 1 : 0);
})();
