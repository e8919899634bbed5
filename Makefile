.PHONY: main test lint
main:
	bash dev.sh main
test:
	bash dev.sh test
lint:
	bash dev.sh lint
