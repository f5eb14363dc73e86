// What the page knows of the deployment, from /console/config.json (loaded once at start).
export const config = { timeZone: "Asia/Shanghai", graphqlPath: "/graphql" };

export async function loadConfig() {
  const response = await fetch("/console/config.json");
  if (response.ok) Object.assign(config, await response.json());
  return config;
}
