/* libFuzzer target for the YAML config loader (config_load_buffer): any
 * document either loads into a config that frees cleanly or is refused
 * with an error message; never a crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_set_level(LOG_LEVEL_ERROR);
		quiet = true;
	}
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct config *config = NULL;
	const char *error = NULL;
	if (config_load_buffer("/fuzz/wildduck.yaml", text, size, &config, &error) == 0) {
		if (config == NULL)
			abort();
		config_free(&config);
		if (config != NULL)
			abort();
	} else if (error == NULL || error[0] == '\0') {
		abort();
	}
	free(text);
	return 0;
}
