/* Uploaded certificates as files: "<name>.pem" (chain) and "<name>.key"
 * per server name, a wildcard's "*" written as "_" (no DNS name has one).
 * The key goes first, so a chain never waits for a key that is not there;
 * a reload racing an upload may see a new key with the old chain: the
 * master skips that pair (logged) and the next reload takes both. */
#include "tls_dir.h"

#include "mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILE (1 << 20)

static __thread char dir_error[512];

static const char *sys_error(const char *what, const char *path)
{
	snprintf(dir_error, sizeof(dir_error), "%s(%s) failed: %s", what, path, strerror(errno));
	return dir_error;
}

char *tls_dir_path(const struct config *config)
{
	const char *p = config->tls.certs_dir;
	if (p == NULL || p[0] == '\0')
		return NULL;
	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s/%s", config->data_dir, p);
}

/* The file stem of a server name; NULL when it could name another file. */
static char *file_stem(const char *servername)
{
	if (servername[0] == '\0' || servername[0] == '.' || strchr(servername, '/') != NULL ||
	    strlen(servername) > 253)
		return NULL;
	char *stem = xstrdup(servername);
	if (stem[0] == '*')
		stem[0] = '_';
	return stem;
}

static int write_file(const char *dir, const char *name, const char *text,
		      const char **error_r)
{
	char *tmp = xasprintf("%s/.%s.tmp", dir, name);
	char *path = xasprintf("%s/%s", dir, name);
	int ret = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		*error_r = sys_error("open", tmp);
		goto out;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0) {
			*error_r = sys_error("write", tmp);
			close(fd);
			unlink(tmp);
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		*error_r = sys_error("fsync", tmp);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) < 0) {
		*error_r = sys_error("rename", path);
		unlink(tmp);
		goto out;
	}
	ret = 0;
out:
	free(tmp);
	free(path);
	return ret;
}

int tls_dir_write(const struct config *config, const char *servername, const char *cert_pem,
		  const char *key_pem, const char **error_r)
{
	char *dir = tls_dir_path(config), *stem = file_stem(servername);
	int ret = -1;
	if (dir == NULL) {
		ret = 0;
		goto out;
	}
	if (stem == NULL) {
		*error_r = "bad server name";
		goto out;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = sys_error("mkdir", dir);
		goto out;
	}
	char *key = xasprintf("%s.key", stem), *cert = xasprintf("%s.pem", stem);
	ret = write_file(dir, key, key_pem, error_r);
	if (ret == 0)
		ret = write_file(dir, cert, cert_pem, error_r);
	free(key);
	free(cert);
out:
	free(dir);
	free(stem);
	return ret;
}

int tls_dir_remove(const struct config *config, const char *servername, const char **error_r)
{
	char *dir = tls_dir_path(config), *stem = file_stem(servername);
	int ret = 0;
	if (dir != NULL && stem != NULL) {
		/* the chain first: without it the key is never read */
		const char *exts[] = { "pem", "key" };
		for (size_t i = 0; i < 2 && ret == 0; i++) {
			char *path = xasprintf("%s/%s.%s", dir, stem, exts[i]);
			if (unlink(path) < 0 && errno != ENOENT) {
				*error_r = sys_error("unlink", path);
				ret = -1;
			}
			free(path);
		}
	}
	free(dir);
	free(stem);
	return ret;
}

/* Reads a regular file owned by owner, without following symlinks. */
static int read_owned(int dirfd, const char *name, uid_t owner, struct buffer *out,
		      const char **error_r)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0) {
		*error_r = sys_error("open", name);
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != owner ||
	    st.st_size > MAX_FILE) {
		snprintf(dir_error, sizeof(dir_error),
			 "%s: not a regular file of the folder's owner (or too big)", name);
		*error_r = dir_error;
		close(fd);
		return -1;
	}
	char chunk[4096];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buffer_append(out, chunk, (size_t)n);
	close(fd);
	if (n < 0) {
		*error_r = sys_error("read", name);
		return -1;
	}
	return 0;
}

int tls_dir_read(const struct config *config, tls_dir_add_fn *add, void *ctx,
		 const char **error_r)
{
	char *dir = tls_dir_path(config);
	if (dir == NULL)
		return 0;
	int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	struct dirent **names = NULL;
	int n = 0, ret = 0;
	if (dirfd < 0) {
		if (errno != ENOENT) {
			*error_r = sys_error("open", dir);
			ret = -1;
		}
		goto out;
	}
	if (fstat(dirfd, &st) < 0) {
		*error_r = sys_error("fstat", dir);
		ret = -1;
		goto out;
	}
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		*error_r = sys_error("scandir", dir);
		ret = -1;
		n = 0;
		goto out;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		if (name[0] == '.' || len <= 4 || strcmp(name + len - 4, ".pem") != 0)
			continue;
		char *key_name = xasprintf("%.*s.key", (int)(len - 4), name);
		char *server = xasprintf("%.*s", (int)(len - 4), name);
		if (server[0] == '_')
			server[0] = '*';
		struct buffer cert = BUFFER_INIT, key = BUFFER_INIT;
		const char *error = NULL;
		if (read_owned(dirfd, name, st.st_uid, &cert, &error) == 0 &&
		    read_owned(dirfd, key_name, st.st_uid, &key, &error) == 0)
			add(server, &cert, &key, NULL, ctx);
		else
			add(server, NULL, NULL, error, ctx);
		buffer_free(&cert);
		buffer_free(&key);
		free(key_name);
		free(server);
	}
out:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (dirfd >= 0)
		close(dirfd);
	free(dir);
	return ret;
}
