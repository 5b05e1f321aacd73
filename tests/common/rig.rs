//! The set-up the crash and fault tests share: both sandboxes, seeded and stocked alike,
//! each behind a recording proxy, and an on-call webhook; the daemon's `[[channel]]` blocks
//! point at the proxies.

use std::sync::Arc;

use vigie_testkit::{Marketplaces, Recorder, WebhookSink};

pub struct Rig {
    /// Shared with the tasks that place orders and inject faults.
    pub markets: Arc<Marketplaces>,
    pub mirakl_proxy: Recorder,
    pub fnac_proxy: Recorder,
    pub alerts: WebhookSink,
}

impl Rig {
    /// Both sandboxes, their draws seeded with `seed`, each offering `stock` (sku, units).
    pub async fn start(seed: u64, stock: &[(&str, u32)]) -> Self {
        let markets = Marketplaces::start(seed).await.unwrap();
        markets.offer(stock.iter().copied());
        Self {
            mirakl_proxy: Recorder::start(&markets.mirakl.base_url()).await.unwrap(),
            fnac_proxy: Recorder::start(&markets.fnac.base_url()).await.unwrap(),
            alerts: WebhookSink::start().await.unwrap(),
            markets: Arc::new(markets),
        }
    }

    /// Channel `lm` (the Mirakl sandbox) and channel `fnac`, both through their proxy, polled
    /// every `poll` (e.g. "2s"), with these `limits` tables.
    pub fn channels(&self, poll: &str, mirakl_limits: &str, fnac_limits: &str) -> String {
        let Marketplaces { mirakl, fnac, .. } = &*self.markets;
        format!(
            r#"
[[channel]]
name = "lm"
kind = "mirakl"
base_url = "{mirakl_url}"
api_key = "{mirakl_key}"
shop_id = {mirakl_shop}
poll_interval = "{poll}"
limits = {mirakl_limits}

[[channel]]
name = "fnac"
kind = "fnac"
base_url = "{fnac_url}"
partner_id = "{partner}"
shop_id = "{fnac_shop}"
key = "{fnac_key}"
poll_interval = "{poll}"
limits = {fnac_limits}
"#,
            mirakl_url = self.mirakl_proxy.url("/"),
            mirakl_key = mirakl.api_key(),
            mirakl_shop = mirakl.shop_id(),
            fnac_url = self.fnac_proxy.url("/api.php"),
            partner = fnac.partner_id(),
            fnac_shop = fnac.shop_id(),
            fnac_key = fnac.key(),
        )
    }

    /// Channel `amazon-fr` on the Amazon sandbox (no proxy), polled every `poll`, its usage
    /// plans a hundred times Amazon's.
    pub fn amazon_channel(&self, poll: &str) -> String {
        let amazon = &self.markets.amazon;
        let o = amazon.options();
        format!(
            "\n[[channel]]\nname = \"amazon-fr\"\nkind = \"amazon\"\nseller_id = \"{}\"\n\
             client_id = \"{}\"\nclient_secret = \"{}\"\nrefresh_token = \"{}\"\n\
             base_url = \"{}\"\ntoken_url = \"{}\"\npoll_interval = \"{poll}\"\n\
             limits = {{ scale = 100 }}\n",
            o.seller_id,
            o.client_id,
            o.client_secret,
            o.refresh_token,
            amazon.base_url(),
            amazon.token_url(),
        )
    }

    /// The `[[alerts.webhook]]` block for the on-call sink.
    pub fn alerts_webhook(&self) -> String {
        format!(
            "\n[[alerts.webhook]]\nurl = \"{}\"\nformat = \"generic\"\n",
            self.alerts.url()
        )
    }
}
