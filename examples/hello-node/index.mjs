// Minimal Lambda function (runtime nodejs20.x, handler index.handler), ES module.

export const handler = async (event, context) => {
  const name = event?.name ?? "world";
  console.log(`hello-node: request ${context.awsRequestId} greeting ${name}`);
  return { message: `hello, ${name}` };
};
