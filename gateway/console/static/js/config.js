// What the page knows of the deployment: written into the page by the gateway
// (<script id="console-config">, no round trip before the first screen), or else
// fetched from /console/config.json.
export const config = { timeZone: "Asia/Shanghai", graphqlPath: "/graphql" };

export async function loadConfig() {
  const inline = document.getElementById("console-config");
  if (inline) {
    Object.assign(config, JSON.parse(inline.textContent));
    return config;
  }
  const response = await fetch("/console/config.json");
  if (response.ok) Object.assign(config, await response.json());
  return config;
}
