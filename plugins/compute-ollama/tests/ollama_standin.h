/* A stand-in for an Ollama server (no model weights exist on these machines): libmicrohttpd on
 * 127.0.0.1:0 answering /api/tags and a streamed /api/generate. The model name picks the
 * behaviour:
 *   "tiny"  streams min(num_predict, 40) tokens "t0 ", "t1 ", … then done with eval_count
 *   "drop"  streams 3 tokens, then closes the connection mid-stream
 *   "error" streams 2 tokens, then {"error":"the model crashed"}
 *   "junk"  streams 1 token, then a line that is not JSON
 *   "slow"  streams one token every 100 ms until the client goes away
 *   "busy"  answers 503 {"error":"server busy"}
 *   "bad"   answers 400 {"error":"invalid options"}
 *   anything else: 404 {"error":"model '<name>' not found"} */
#ifndef OLLAMA_STANDIN_H
#define OLLAMA_STANDIN_H

typedef struct ollama_standin ollama_standin;

ollama_standin *ollama_standin_start(void);
void ollama_standin_stop(ollama_standin *s);
int ollama_standin_port(const ollama_standin *s);
/** The body of the last /api/generate request (malloc'd copy; caller frees), or NULL. */
char *ollama_standin_last_request(ollama_standin *s);
/** How many "slow" streams are still being written (to see a cancelled client go away). */
int ollama_standin_open_streams(ollama_standin *s);

#endif
