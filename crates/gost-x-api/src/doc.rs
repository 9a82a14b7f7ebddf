//! The OpenAPI (Swagger 2.0, as gost's) document, generated from the same route table the
//! server dispatches on, so it cannot list a route the server lacks.

use std::fmt::Write as _;

use gost_x_config::runtime::Kind;

/// The document, for routes under `prefix` (`pathPrefix`).
pub fn swagger(prefix: &str) -> String {
    let mut d = String::with_capacity(16 * 1024);
    let base = if prefix.is_empty() { "/" } else { prefix };
    let _ = write!(
        d,
        "swagger: \"2.0\"
info:
  title: gost Web API
  description: >-
    The running configuration of a gost (Rust) process. Compatible with gost's Web API:
    objects are the same JSON as in a configuration file; lists and objects come in a
    `data` envelope, changes answer {{\"msg\":\"OK\"}}, errors {{\"code\":N,\"msg\":\"...\"}}
    (40001 invalid, 40002 duplicate, 40003 creation failed, 40004 not found, 40005 save failed).
  version: 1.0.0
basePath: {base}
schemes: [http]
consumes: [application/json]
produces: [application/json]
securityDefinitions:
  basicAuth:
    type: basic
security:
  - basicAuth: []
definitions:
  Response:
    type: object
    properties:
      code: {{type: integer}}
      msg: {{type: string}}
  Object:
    type: object
    description: One configuration object, as in the configuration file (docs/configuration.md).
    required: [name]
    properties:
      name: {{type: string}}
    additionalProperties: true
  List:
    type: object
    properties:
      data:
        type: object
        properties:
          count: {{type: integer}}
          list:
            type: array
            items: {{$ref: '#/definitions/Object'}}
  One:
    type: object
    properties:
      data: {{$ref: '#/definitions/Object'}}
paths:
  /docs/swagger.yaml:
    get:
      summary: This document.
      security: []
      produces: [text/yaml]
      responses:
        \"200\": {{description: the document}}
  /config:
    get:
      summary: The running configuration, each service with its fresh status (not enveloped).
      produces: [application/json, text/x-yaml]
      parameters:
        - {{name: format, in: query, type: string, enum: [json, yaml]}}
      responses:
        \"200\": {{description: the configuration}}
        \"401\": {{description: unauthorized, schema: {{$ref: '#/definitions/Response'}}}}
    post:
      summary: Save the running configuration to a file (path, else the -C file, else gost.yaml).
      parameters:
        - {{name: format, in: query, type: string, enum: [json, yaml]}}
        - {{name: path, in: query, type: string}}
      responses:
        \"200\": {{description: saved, schema: {{$ref: '#/definitions/Response'}}}}
        \"500\": {{description: 40005, schema: {{$ref: '#/definitions/Response'}}}}
  /config/reload:
    post:
      summary: Read the configuration sources again and apply them (unsaved API changes are lost).
      responses:
        \"200\": {{description: reloaded, schema: {{$ref: '#/definitions/Response'}}}}
        \"400\": {{description: 40001, schema: {{$ref: '#/definitions/Response'}}}}
"
    );
    for kind in Kind::ALL {
        let seg = kind.segment();
        let one = kind.singular();
        let _ = write!(
            d,
            "  /config/{seg}:
    get:
      summary: Every {one}.
      responses:
        \"200\": {{description: the list, schema: {{$ref: '#/definitions/List'}}}}
    post:
      summary: Create a {one}{started}.
      parameters:
        - {{name: body, in: body, required: true, schema: {{$ref: '#/definitions/Object'}}}}
      responses:
        \"200\": {{description: created, schema: {{$ref: '#/definitions/Response'}}}}
        \"400\": {{description: 40001 invalid or 40002 duplicate, schema: {{$ref: '#/definitions/Response'}}}}
        \"500\": {{description: 40003 creation failed, schema: {{$ref: '#/definitions/Response'}}}}
  /config/{seg}/{{name}}:
    parameters:
      - {{name: name, in: path, required: true, type: string}}
    get:
      summary: One {one} (an empty object if none has that name).
      responses:
        \"200\": {{description: the {one}, schema: {{$ref: '#/definitions/One'}}}}
    put:
      summary: Replace a {one} (the name in the path wins){replaced}.
      parameters:
        - {{name: body, in: body, required: true, schema: {{$ref: '#/definitions/Object'}}}}
      responses:
        \"200\": {{description: replaced, schema: {{$ref: '#/definitions/Response'}}}}
        \"400\": {{description: 40001 invalid or 40004 not found, schema: {{$ref: '#/definitions/Response'}}}}
        \"500\": {{description: 40003 creation failed, schema: {{$ref: '#/definitions/Response'}}}}
    delete:
      summary: Delete a {one}{deleted}.
      responses:
        \"200\": {{description: deleted, schema: {{$ref: '#/definitions/Response'}}}}
        \"400\": {{description: 40004 not found, schema: {{$ref: '#/definitions/Response'}}}}
",
            started = if kind == Kind::Services { " and start it" } else { "" },
            replaced = if kind == Kind::Services {
                "; the old service is closed and the new one started"
            } else {
                "; users of the name see the new one at their next connection"
            },
            deleted = if kind == Kind::Services { " and close its port" } else { "" },
        );
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_is_yaml_and_lists_every_kind() {
        let doc: serde_json::Value = serde_yaml::from_str(&swagger("/api")).unwrap();
        assert_eq!(doc["basePath"], "/api");
        let paths = doc["paths"].as_object().unwrap();
        for kind in Kind::ALL {
            let item = &paths[&format!("/config/{}/{{name}}", kind.segment())];
            assert!(item["put"].is_object() && item["delete"].is_object(), "{kind:?}");
        }
        assert!(paths["/config/reload"]["post"].is_object());
    }
}
