//! The MCP server handler: the engine's tools, the KB and docs as
//! resources, and the troubleshooting prompt, on rmcp's `ServerHandler`.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, Prompt, PromptArgument, PromptMessage,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource,
    ResourceContents, Role, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use rootcause_engine::Engine;
use rootcause_engine::protocol::token::SessionKey;
use rootcause_engine::protocol::tools::{self, Toolbox};
use rootcause_engine::protocol::{Collect, kb_description};
use serde_json::{Map, Value as Json, json};

use crate::shared::allow::AllowedProbe;

const CHATBOTS_MD: &str = include_str!("../../../docs/chatbots.md");
const KB_MD: &str = include_str!("../../../docs/kb-rdp-0x904.md");

const PROMPT: &str = "You are helping someone whose Remote Desktop connection fails (for example error 0x904 with extended error 0x7). Use the rootcause tools:
1. Call start_diagnosis. If the user pasted an error message, event log lines or command output, pass it as `text`; pass answers they already gave as `observations`.
2. Follow `advice.step` in each answer. When it is `ask`, put the `next` question to the user in plain words, offer its answers (and `unknown`), and mention `how_to_find_out` if they are unsure; then call answer with the `session` token, the question's `evidence` and their answer.
3. When it is `try_fix`, call fix_details for the fix, walk the user through its steps (say plainly when a fix lowers security and how to revert it), then call report_fix with whether it worked. After a fix that worked, ask the verification question that comes next.
4. Always pass the latest `session` token. Use explain when the user asks why; decode_error for an error code.
Never invent causes or fixes that the tools did not give.";

/// Everything a request needs; shared by all connections.
pub struct Inner {
    pub engine: Arc<Engine>,
    pub key: SessionKey,
    /// Hosts `probe_rdp` may probe (`None`: the tool is not listed).
    pub probe: Option<AllowedProbe>,
}

#[derive(Clone)]
pub struct Handler(pub Arc<Inner>);

impl Handler {
    fn tools(&self) -> Vec<Tool> {
        tools::specs(self.0.probe.is_some())
            .into_iter()
            .map(|s| {
                Tool::new(s.name, s.description, as_object(s.input_schema))
                    .with_title(s.title)
                    .with_raw_output_schema(Arc::new(as_object(s.output_schema)))
            })
            .collect()
    }

    fn resources(&self) -> Vec<(String, &'static str, String, &'static str)> {
        let id = &self.0.engine.kb.manifest.id;
        vec![
            (
                format!("rootcause://kb/{id}/causes"),
                "causes",
                format!("The causes of KB {id}, with priors"),
                "application/json",
            ),
            (
                format!("rootcause://kb/{id}/evidence"),
                "evidence",
                format!("The questions and facts of KB {id}"),
                "application/json",
            ),
            (
                format!("rootcause://kb/{id}/fixes"),
                "fixes",
                format!("The fixes of KB {id}, with steps and risks"),
                "application/json",
            ),
            (
                "rootcause://docs/chatbots.md".into(),
                "chatbots.md",
                "How to drive rootcause from a chatbot".into(),
                "text/markdown",
            ),
            (
                "rootcause://docs/kb-rdp-0x904.md".into(),
                "kb-rdp-0x904.md",
                "How the RDP 0x904 KB was built, with its sources".into(),
                "text/markdown",
            ),
        ]
    }

    fn read(&self, uri: &str) -> Option<String> {
        let id = &self.0.engine.kb.manifest.id;
        let kb = || kb_description(&self.0.engine);
        let part = |k: &str| {
            serde_json::to_string_pretty(&kb().get(k).cloned().unwrap_or(Json::Null)).ok()
        };
        match uri.strip_prefix(&format!("rootcause://kb/{id}/")) {
            Some("causes") => part("causes"),
            Some("evidence") => part("evidence"),
            Some("fixes") => part("fixes"),
            _ => match uri {
                "rootcause://docs/chatbots.md" => Some(CHATBOTS_MD.into()),
                "rootcause://docs/kb-rdp-0x904.md" => Some(KB_MD.into()),
                _ => None,
            },
        }
    }
}

fn as_object(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

/// Run one tool call (blocking: a probe may take seconds).
pub fn call(inner: &Inner, name: &str, args: &Map<String, Json>) -> CallToolResult {
    let toolbox = Toolbox {
        engine: &inner.engine,
        key: &inner.key,
    };
    let mut probe = inner.probe.clone();
    let collector = probe.as_mut().map(|p| p as &mut dyn Collect);
    match toolbox.call(name, args, collector) {
        Ok(a) => {
            let mut r = CallToolResult::success(vec![ContentBlock::text(a.text)]);
            r.structured_content = Some(Json::Object(a.structured));
            r
        }
        Err(e) => CallToolResult::error(vec![ContentBlock::text(format!(
            "error {}: {}",
            e.code, e.message
        ))]),
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        let kb = &self.0.engine.kb.manifest;
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new("rootcause", env!("CARGO_PKG_VERSION")))
        .with_instructions(format!(
            "rootcause diagnoses {} (KB {} {}). Start with start_diagnosis, follow `advice`, ask the user the `next` question, pass the `session` token to every call. The prompt `troubleshoot_rdp` explains the loop.",
            kb.title, kb.id, kb.version
        ))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        if !self.tools().iter().any(|t| t.name == name) {
            return Err(McpError::invalid_params(
                format!("unknown tool `{name}`"),
                Some(json!({"tool": name})),
            ));
        }
        let args = request.arguments.unwrap_or_default();
        let inner = self.0.clone();
        let result = tokio::task::spawn_blocking(move || call(&inner, &name, &args))
            .await
            .map_err(|e| McpError::internal_error(format!("the tool call failed: {e}"), None))?;
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let resources = self
            .resources()
            .into_iter()
            .map(|(uri, name, description, mime)| {
                let mut r = Resource::new(uri, name).with_description(description);
                r.mime_type = Some(mime.into());
                r
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        match self.read(&request.uri) {
            Some(text) => {
                Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri)]).into())
            }
            None => Err(McpError::resource_not_found(
                format!("no resource `{}`", request.uri),
                Some(json!({"uri": request.uri})),
            )),
        }
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let mut arg = PromptArgument::new("symptom");
        arg.description = Some("What the user sees (error text, code), if known".into());
        arg.required = Some(false);
        Ok(ListPromptsResult::with_all_items(vec![Prompt::new(
            "troubleshoot_rdp",
            Some("Troubleshoot a Remote Desktop failure with the rootcause tools"),
            Some(vec![arg]),
        )]))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        if request.name != "troubleshoot_rdp" {
            return Err(McpError::invalid_params(
                format!(
                    "unknown prompt `{}` (prompts: troubleshoot_rdp)",
                    request.name
                ),
                None,
            ));
        }
        let mut text = PROMPT.to_string();
        if let Some(s) = request
            .arguments
            .as_ref()
            .and_then(|a| a.get("symptom"))
            .and_then(Json::as_str)
        {
            text.push_str(&format!("\n\nThe user reports: {s}"));
        }
        Ok(
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                .with_description("Troubleshoot a Remote Desktop failure")
                .into(),
        )
    }
}
